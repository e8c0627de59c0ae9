using System.CommandLine;
using PluginGpt.Runs.Sweeps;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt sweep EXPERIMENT.json --grid key=v1,v2 …</c>: one run per combination, here one after another or as a
/// Slurm job array (<c>--slurm [--submit]</c>), compared in a table, JSON, Markdown and PNG (<c>--collect DIR</c> compares
/// whatever finished).</summary>
public sealed class SweepCommand(IAnsiConsole console, ExperimentRunnerFactory runners, GlobalOptions.Values globals) : ICliCommand
{
    readonly Argument<string?> file = new("experiment")
    {
        Description = "the experiment every run starts from",
        Arity = ArgumentArity.ZeroOrOne,
    };
    readonly Option<string[]> grid = new("--grid") { Description = "key=v1,v2 (repeatable; combinations multiply)" };
    readonly Option<string[]> set = new("--set") { Description = "override shared by every run" };
    readonly Option<string?> output = new("--out") { Description = "sweep folder (default runs/<name>-sweep-<time>)" };
    readonly Option<bool> slurm = new("--slurm") { Description = "write a Slurm job array (sweep.sbatch) instead of running here" };
    readonly Option<string?> partition = new("--partition") { Description = "with --slurm: the partition to run in" };
    readonly Option<string?> time = new("--time") { Description = "with --slurm: time limit per run (e.g. 30, 2:00:00)" };
    readonly Option<int?> cpus = new("--cpus") { Description = "with --slurm: CPUs per run (also LibTorch's threads)" };
    readonly Option<bool> submit = new("--submit") { Description = "with --slurm: submit the job array with sbatch" };
    readonly Option<string?> collect = new("--collect")
    {
        Description = "compare what finished in a sweep folder; list what failed or is missing",
    };

    public Command Build()
    {
        var command = new Command("sweep", "Run an experiment over a grid of settings (here or on Slurm) and compare the runs.")
        {
            file, grid, set, output, slurm, partition, time, cpus, submit, collect,
        };
        command.SetAction((parse, cancel) => parse.GetValue(collect) is { } collected ? Task.FromResult(Collect(parse, collected))
            : Sweep(parse, cancel));
        return command;
    }

    async Task<int> Sweep(ParseResult parse, CancellationToken cancel)
    {
        var path = parse.GetValue(file) ?? throw new OptionsException("sweep: give the experiment file (or --collect DIR)");
        var grids = parse.GetValue(grid) is { Length: > 0 } g ? g : throw new OptionsException("--grid: give at least one key=v1,v2");
        var settings = new SlurmSettings(parse.GetValue(partition), parse.GetValue(time), parse.GetValue(cpus));
        var onSlurm = parse.GetValue(slurm);
        if (!onSlurm && (settings != new SlurmSettings(null, null, null) || parse.GetValue(submit)))
            throw new OptionsException("--partition, --time, --cpus and --submit go with --slurm");
        SlurmJob.Validate(settings);
        var checker = runners.Quiet();
        using var setup = SweepSetup.Prepare(path, grids, parse.GetValue(set) ?? [], parse.GetValue(output), onSlurm, checker.Check,
            cancel);
        if (setup is null) return Cli.Cancelled;
        if (onSlurm) return Slurm(setup.Directory, setup.Plan, settings, parse.GetValue(submit));
        for (int i = 0; i < setup.Specs.Count && !cancel.IsCancellationRequested; i++)
        {
            var run = setup.Plan.Runs[i];
            var runner = runners.Create($"[{i + 1}/{setup.Specs.Count}] {run.Label}");
            await runner.RunAsync(setup.Specs[i] with { Output = Path.Combine(setup.Directory, run.Folder) }, cancel);
        }
        SweepCollection.Report(console, setup.Directory, setup.Plan, null);
        return cancel.IsCancellationRequested ? Cli.Cancelled : 0;
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
    int Collect(ParseResult parse, string directory)
    {
        Option[] sweepOnly = [grid, set, output, slurm, partition, time, cpus, submit];
        if (parse.GetValue(file) is not null || sweepOnly.Any(o => parse.GetResult(o) is { Implicit: false }))
            throw new OptionsException("--collect DIR: give only the sweep folder (no experiment, --grid, --set, --out or Slurm options)");
        var dir = Path.GetFullPath(directory);
        var statuses = SweepCollection.Report(console, dir, SweepPlan.Read(dir), globals.Results);
        return statuses.All(s => s.State == SweepRunState.Finished) ? 0 : 3;
    }
}
