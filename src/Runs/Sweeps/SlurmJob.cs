using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs.Sweeps;

/// <summary>Where a Slurm sweep's array runs: the <c>sbatch</c> options the user chose.</summary>
public sealed record SlurmSettings(string? Partition, string? Time, int? Cpus);

/// <summary>
/// A sweep as one Slurm job array (<c>sweep.sbatch</c>): array index i runs combination i with <c>plugingpt run</c> into its
/// folder and the results store, and records its exit status in <c>slurm/i.exit</c> (its output is <c>slurm/i.out</c>).
/// The script is plain bash a user can read, edit and submit again; <c>--submit</c> hands it to <c>sbatch</c>.
/// </summary>
public static partial class SlurmJob
{
    public const string ScriptName = "sweep.sbatch", LogFolder = "slurm";

    public static void Validate(SlurmSettings s)
    {
        if (s.Partition is { } p && !PartitionName().IsMatch(p))
            throw new OptionsException($"--partition: '{p}' is not a partition name");
        // Slurm's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
        if (s.Time is { } t && !TimeLimit().IsMatch(t))
            throw new OptionsException($"--time: '{t}' is not a Slurm time limit (e.g. 30, 2:00:00, 1-00:00:00)");
        if (s.Cpus is < 1) throw new OptionsException($"--cpus: expected at least 1, got {s.Cpus}");
    }

    /// <summary>#SBATCH lines are split at white space and read quotes, '#' and '\'; '%' in <c>--output</c> is a file-name pattern
    /// (%j, %u, …): a sweep folder or working folder with any of these cannot be written there.</summary>
    public static void CheckPaths(string sweepDirectory)
    {
        foreach (var (path, what) in new[] { (Environment.CurrentDirectory, "the working folder"), (sweepDirectory, "the sweep folder") })
            if (path.FirstOrDefault(c => char.IsWhiteSpace(c) || c is '%' or '\\' or '"' or '\'' or '#') is var bad && bad != default)
                throw new OptionsException($"--slurm: {what} '{path}' holds '{bad}', which #SBATCH lines cannot hold; use another");
    }

    /// <summary>Writes <c>sweep.sbatch</c> into the sweep folder and returns its path. <paramref name="hostCommand"/> starts this
    /// program; <paramref name="globalArguments"/> (plugin folders, results store, telemetry) are passed to every run.</summary>
    public static string Write(string sweepDirectory, SweepPlan plan, SlurmSettings settings, IReadOnlyList<string> hostCommand,
        IReadOnlyList<string> globalArguments)
    {
        var logs = Path.Combine(sweepDirectory, LogFolder);
        Directory.CreateDirectory(logs);
        var s = new StringBuilder();
        s.AppendLine("#!/bin/bash");
        s.AppendLine(CultureInfo.InvariantCulture,
            $"# Written by `plugingpt sweep --slurm` at {DateTimeOffset.Now:u}: one array task per combination.");
        s.AppendLine(CultureInfo.InvariantCulture, $"# Submit: sbatch {Quote(Path.Combine(sweepDirectory, ScriptName))}");
        s.AppendLine(CultureInfo.InvariantCulture, $"# Compare what finished: plugingpt sweep --collect {Quote(sweepDirectory)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --job-name={OutputFolder.SafeName(plan.Name)}-sweep");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --array=0-{plan.Runs.Count - 1}");
        // Relative paths in the experiment (model, tokenizer, data) mean what they meant where the sweep was made.
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --chdir={Environment.CurrentDirectory}");
        s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --output={Path.Combine(logs, "%a.out")}");
        if (settings.Partition is { } p) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --partition={p}");
        if (settings.Time is { } t) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --time={t}");
        if (settings.Cpus is { } cpus) s.AppendLine(CultureInfo.InvariantCulture, $"#SBATCH --cpus-per-task={cpus}");
        s.AppendLine("set -u");
        // Without --cpus-per-task Slurm gives a task one CPU; on clusters that do not pin CPUs LibTorch would take every core.
        s.AppendLine("export OMP_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"   # LibTorch's threads: the CPUs Slurm gave this task");
        s.AppendLine("case \"$SLURM_ARRAY_TASK_ID\" in");
        foreach (var run in plan.Runs)
        {
            var sets = string.Join(' ', run.Overrides.Select(o => "--set " + Quote(o)));
            s.AppendLine(CultureInfo.InvariantCulture,
                $"  {run.Index}) folder={Quote(Path.Combine(sweepDirectory, run.Folder))}; overrides=({sets}) ;;");
        }
        s.AppendLine("  *) echo \"no combination $SLURM_ARRAY_TASK_ID in this sweep\" >&2; exit 2 ;;");
        s.AppendLine("esac");
        // Submitted again (a retry of failed runs, or Slurm's requeue): a finished run is kept, an unfinished one moved aside.
        s.AppendLine(CultureInfo.InvariantCulture, $"exit_file={Quote(logs)}/\"$SLURM_ARRAY_TASK_ID.exit\"");
        s.AppendLine("rm -f \"$exit_file\"");
        s.AppendLine(CultureInfo.InvariantCulture,
            $"if [ -f \"$folder/{RunFiles.Summary}\" ]; then echo \"$folder: finished before\"; echo 0 > \"$exit_file\"; exit 0; fi");
        s.AppendLine("if [ -e \"$folder\" ]; then mv \"$folder\" \"$folder.unfinished-$(date +%Y%m%d-%H%M%S)\"; fi");
        // Slurm sends SIGTERM at the time limit or on scancel: the run stops cleanly (exit 130) and the status is still written.
        s.AppendLine("trap 'echo \"plugingpt sweep: SIGTERM from Slurm (time limit or scancel)\" >&2' TERM");
        var command = string.Join(' ', hostCommand.Select(Quote));
        var global = string.Join(' ', globalArguments.Select(Quote));
        var experiment = Quote(Path.Combine(sweepDirectory, SweepPlan.ExperimentCopy));
        s.AppendLine(CultureInfo.InvariantCulture, $"{command} run {experiment} \"${{overrides[@]}}\" --set \"output=$folder\" {global}");
        s.AppendLine("status=$?");
        s.AppendLine("echo \"$status\" > \"$exit_file\"");
        s.AppendLine("exit \"$status\"");

        var path = Path.Combine(sweepDirectory, ScriptName);
        AtomicFile.WriteAllText(path, s.ToString());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>Submits the script with <c>sbatch --parsable</c> and returns the job id; Slurm's own error when it refuses.</summary>
    public static string Submit(string script)
    {
        var start = new ProcessStartInfo("sbatch") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--parsable");
        start.ArgumentList.Add(script);
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new UserInputException($"--submit: sbatch not found on PATH (is this a Slurm login node?); the script is {script}");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            var first = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
            if (process.ExitCode != 0)
                throw new UserInputException($"--submit: sbatch refused {script} (exit {process.ExitCode}): {first ?? "no message"}");
            // --parsable prints "jobid" or "jobid;cluster".
            return stdout.Result.Trim().Split(';')[0];
        }
    }

    /// <summary>The command that starts this program again: the installed tool or apphost as is, or <c>dotnet plugingpt.dll</c>.</summary>
    public static IReadOnlyList<string> HostCommand()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && entry is { Length: > 0 } ? [process, entry] : [process];
    }

    /// <summary>A bash word that stays exactly <paramref name="text"/>: single quotes, with each ' written as '\''.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+$")]
    private static partial Regex PartitionName();

    [GeneratedRegex(@"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$")]
    private static partial Regex TimeLimit();
}
