using PluginGpt.Core.Training;
using PluginGpt.Runs.Reports;
using PluginGpt.Runs.Results;
using Spectre.Console;

namespace PluginGpt.Runs.Sweeps;

/// <summary>Where one planned run of a sweep stands.</summary>
public enum SweepRunState { Finished, Failed, Missing }

/// <summary>One planned run, its state and, when it is not finished, why (exit status, the last line it printed).</summary>
public sealed record SweepRunStatus(SweepPlan.Run Run, string Folder, SweepRunState State, string Detail, RunSummary? Summary);

/// <summary>
/// A sweep's runs compared from what is on disk: every finished run (its <c>metrics.json</c>) goes into the comparison (table,
/// <c>sweep.json</c>, <c>sweep.md</c>, <c>sweep.png</c>); every other one is listed as failed (a non-zero exit status was
/// recorded) or missing (queued, running, killed, or never run). Used after a local sweep and by <c>sweep --collect</c>.
/// </summary>
public static class SweepCollection
{
    public static IReadOnlyList<SweepRunStatus> Inspect(string sweepDirectory, SweepPlan plan) =>
        [.. plan.Runs.Select(run => Inspect(sweepDirectory, run))];

    static SweepRunStatus Inspect(string sweepDirectory, SweepPlan.Run run)
    {
        var folder = Path.Combine(sweepDirectory, run.Folder);
        var exitFile = Path.Combine(sweepDirectory, SlurmJob.LogFolder, $"{run.Index}.exit");
        var log = Path.Combine(sweepDirectory, SlurmJob.LogFolder, $"{run.Index}.out");
        int? exit = File.Exists(exitFile) && int.TryParse(File.ReadAllText(exitFile).Trim(), out var code) ? code : null;
        if (File.Exists(Path.Combine(folder, RunFiles.Summary)))
        {
            try { return new(run, folder, SweepRunState.Finished, "", RunFiles.ReadSummary(folder)); }
            catch (UserInputException e) { return new(run, folder, SweepRunState.Failed, e.Message, null); }
        }
        var said = LastLine(log) is { } line ? $"; last output: {line}" : "";
        return exit switch
        {
            0 => new(run, folder, SweepRunState.Failed, $"exited 0 but wrote no {RunFiles.Summary}{said}", null),
            130 => new(run, folder, SweepRunState.Failed, $"cancelled (exit 130: time limit, scancel or Ctrl+C){said}", null),
            { } failed => new(run, folder, SweepRunState.Failed, $"exit {failed}{said}", null),
            null when File.Exists(log) || Directory.Exists(folder) => new(run, folder, SweepRunState.Missing,
                $"started, not finished: still running, or stopped before it recorded an exit status{said}", null),
            null => new(run, folder, SweepRunState.Missing, "not run yet (queued, or the sweep stopped before it)", null),
        };
    }

    static string? LastLine(string path)
    {
        if (!File.Exists(path)) return null;
        var line = File.ReadLines(path).Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
        return line is null ? null : line.Length > 200 ? line[..200] + "…" : line;
    }

    /// <summary>Writes the comparison of the finished runs, records in <paramref name="results"/> (when given) the finished runs it
    /// lacks, and lists the others with the command that runs them again; returns the statuses.</summary>
    public static IReadOnlyList<SweepRunStatus> Report(IAnsiConsole console, string sweepDirectory, SweepPlan plan, string? results)
    {
        var statuses = Inspect(sweepDirectory, plan);
        if (results is not null) RecordMissingRows(console, statuses, results);
        var rows = statuses.Where(s => s.Summary is not null).Select(s => Row(s.Run.Label, s.Summary!, s.Folder)).ToList();
        if (rows.Count > 0)
            ComparisonReport.Write(console, sweepDirectory, "sweep", rows, null, $"{plan.Name}: {rows[0].Metric} by setting");
        foreach (var s in statuses.Where(s => s.State != SweepRunState.Finished))
            console.MarkupLineInterpolated($"[yellow]{s.State.ToString().ToLowerInvariant()}[/]: {s.Run.Folder}: {s.Detail}");
        console.MarkupLineInterpolated(
            $"{rows.Count} of {statuses.Count} runs finished; sweep folder: {sweepDirectory}");
        var again = statuses.Where(s => s.State != SweepRunState.Finished).Select(s => s.Run.Index).ToList();
        var script = Path.Combine(sweepDirectory, SlurmJob.ScriptName);
        if (again.Count > 0 && File.Exists(script))
            console.MarkupLineInterpolated(
                $"run them again (once none is queued or running): sbatch --array={string.Join(',', again)} {script}");
        return statuses;
    }

    /// <summary>Array tasks record their own rows; one whose write failed (a busy or unreachable database), or a sweep submitted
    /// with <c>--results none</c>, is recorded here, once.</summary>
    static void RecordMissingRows(IAnsiConsole console, IReadOnlyList<SweepRunStatus> statuses, string results)
    {
        using var store = ResultsStore.Open(results);
        int recorded = 0;
        foreach (var s in statuses.Where(s => s.Summary is not null))
        {
            var finished = File.GetLastWriteTimeUtc(Path.Combine(s.Folder, RunFiles.Summary));
            if (store.RecordIfNew(RunRecord.Of(s.Folder, s.Summary!, finished - TimeSpan.FromSeconds(s.Summary!.Seconds)))) recorded++;
        }
        if (recorded > 0) console.MarkupLineInterpolated($"recorded {recorded} finished runs missing from {results}");
    }

    static ComparisonRow Row(string label, RunSummary m, string folder) =>
        new(label, $"{m.Task}/{m.Dataset}", m.TrainableParameters, m.PrimaryMetric, m.PrimaryScore, m.Seconds, folder)
        { TrainingMemoryMb = m.TrainingMemoryMb };
}
