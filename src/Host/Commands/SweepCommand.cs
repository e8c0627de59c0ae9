using System.CommandLine;
using PluginGpt.Runs;
using PluginGpt.Runs.Sweeps;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt sweep EXPERIMENT.json --grid key=v1,v2 …</c>: one run per combination, here one after another or as a
/// Slurm job array (<c>--slurm [--submit]</c>), compared in a table, JSON, Markdown and PNG (<c>--collect DIR</c> compares
/// whatever finished).</summary>
public sealed class SweepCommand(IAnsiConsole console, ExperimentRunnerFactory runners, GlobalOptions.Values globals) : ICliCommand
{
    public Command Build()
    {
        var file = new Argument<string?>("experiment")
        {
            Description = "the experiment every run starts from",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var grid = new Option<string[]>("--grid") { Description = "key=v1,v2 (repeatable; combinations multiply)" };
        var set = new Option<string[]>("--set") { Description = "override shared by every run" };
        var output = new Option<string?>("--out") { Description = "sweep folder (default runs/<name>-sweep-<time>)" };
        var slurm = new Option<bool>("--slurm") { Description = "write a Slurm job array (sweep.sbatch) instead of running here" };
        var partition = new Option<string?>("--partition") { Description = "with --slurm: the partition to run in" };
        var time = new Option<string?>("--time") { Description = "with --slurm: time limit per run (e.g. 30, 2:00:00)" };
        var cpus = new Option<int?>("--cpus") { Description = "with --slurm: CPUs per run (also LibTorch's threads)" };
        var submit = new Option<bool>("--submit") { Description = "with --slurm: submit the job array with sbatch" };
        var collect = new Option<string?>("--collect")
        {
            Description = "compare what finished in a sweep folder; list what failed or is missing",
        };
        var command = new Command("sweep", "Run an experiment over a grid of settings (here or on Slurm) and compare the runs.")
        {
            file, grid, set, output, slurm, partition, time, cpus, submit, collect,
        };
        command.SetAction(async (parse, cancel) =>
        {
            if (parse.GetValue(collect) is { } collected)
            {
                Option[] sweepOnly = [grid, set, output, slurm, partition, time, cpus, submit];
                if (parse.GetValue(file) is not null || sweepOnly.Any(o => parse.GetResult(o) is { Implicit: false }))
                    throw new OptionsException(
                        "--collect DIR: give only the sweep folder (no experiment, --grid, --set, --out or Slurm options)");
                return Collect(collected);
            }
            var path = parse.GetValue(file) ?? throw new OptionsException("sweep: give the experiment file (or --collect DIR)");
            var grids = parse.GetValue(grid) is { Length: > 0 } g ? g : throw new OptionsException("--grid: give at least one key=v1,v2");
            var settings = new SlurmSettings(parse.GetValue(partition), parse.GetValue(time), parse.GetValue(cpus));
            var onSlurm = parse.GetValue(slurm);
            if (!onSlurm && (settings != new SlurmSettings(null, null, null) || parse.GetValue(submit)))
                throw new OptionsException("--partition, --time, --cpus and --submit go with --slurm");
            SlurmJob.Validate(settings);

            var shared = parse.GetValue(set) ?? [];
            var combinations = SweepGrid.Combinations(grids);
            // Every combination is bound and validated before the first run starts (or the job is submitted).
            // One reading of the file is checked, run here and copied for the array tasks.
            var source = ShippedData.ExperimentFile(path);
            var text = File.Exists(source) ? File.ReadAllText(source) : null;
            var specs = combinations.Select(c => ExperimentFile.LoadValid(path, [.. shared, .. c], text)).ToList();
            var checker = runners.Quiet();
            foreach (var spec in specs)
            {
                if (cancel.IsCancellationRequested) return Cli.Cancelled;
                checker.Check(spec);   // plugin options and data of every combination
            }
            var chosen = parse.GetValue(output);
            var name = $"{OutputFolder.SafeName(specs[0].Name)}-sweep-{DateTime.Now:yyyyMMdd-HHmmss}";
            var folder = OutputFolder.CheckName(chosen ?? Path.Combine("runs", name), "--out");
            if (onSlurm) SlurmJob.CheckPaths(Path.GetFullPath(folder));
            var plan = SweepPlan.Create(specs[0].Name, source, combinations, shared);
            // Every run's folder name is checked before any folder is made.
            foreach (var run in plan.Runs) OutputFolder.CheckName(Path.Combine(folder, run.Folder), "--grid");
            using var claim = OutputFolder.Claim(folder, "--out", unique: chosen is null);
            var dir = claim.Directory;
            plan.Write(dir, text!);

            if (onSlurm) return Slurm(dir, plan, settings, parse.GetValue(submit));
            for (int i = 0; i < specs.Count && !cancel.IsCancellationRequested; i++)
            {
                var run = plan.Runs[i];
                var runner = runners.Create($"[{i + 1}/{specs.Count}] {run.Label}");
                await runner.RunAsync(specs[i] with { Output = Path.Combine(dir, run.Folder) }, cancel);
            }
            SweepCollection.Report(console, dir, plan, null);
            return cancel.IsCancellationRequested ? Cli.Cancelled : 0;
        });
        return command;
    }

    int Slurm(string dir, SweepPlan plan, SlurmSettings settings, bool submit)
    {
        var script = SlurmJob.Write(dir, plan, settings, SlurmJob.HostCommand(), globals.ToArguments());
        console.MarkupLineInterpolated($"wrote {script}: {plan.Runs.Count} array tasks (one per combination)");
        if (!submit)
        {
            console.MarkupLineInterpolated($"submit it with: sbatch {script}");
            return 0;
        }
        var job = SlurmJob.Submit(script);
        File.WriteAllText(Path.Combine(dir, SlurmJob.LogFolder, "job-id"), job + "\n");
        console.MarkupLineInterpolated($"submitted job {job} (array 0-{plan.Runs.Count - 1}); watch it with: squeue -j {job}");
        console.MarkupLineInterpolated($"compare what finished with: plugingpt sweep --collect {dir}");
        // The job id alone on stdout's last line, for scripts: JOB=$(plugingpt sweep … --submit | tail -n 1).
        Console.Out.WriteLine(job);
        return 0;
    }

    /// <summary><c>--collect DIR</c>: exit code 0 when every run finished, 3 (a check did not pass) when some failed or are
    /// missing. Finished runs the results database lacks (a task whose write failed) are recorded now.</summary>
    int Collect(string directory)
    {
        var dir = Path.GetFullPath(directory);
        var statuses = SweepCollection.Report(console, dir, SweepPlan.Read(dir), globals.Results);
        return statuses.All(s => s.State == SweepRunState.Finished) ? 0 : 3;
    }
}
