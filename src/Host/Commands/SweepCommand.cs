using System.CommandLine;
using PluginGpt.Core.Training;
using PluginGpt.Host.Experiments;
using PluginGpt.Host.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt sweep EXPERIMENT.json --grid key=v1,v2 …</c>: one run per combination, compared in a table, JSON, Markdown and
/// PNG.</summary>
public sealed class SweepCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var file = new Argument<string>("experiment") { Description = "the experiment every run starts from" };
        var grid = new Option<string[]>("--grid") { Description = "key=v1,v2 (repeatable; combinations multiply)", Required = true };
        var set = new Option<string[]>("--set") { Description = "override shared by every run" };
        var output = new Option<string?>("--out") { Description = "sweep folder (default runs/<name>-sweep-<time>)" };
        var command = new Command("sweep", "Run an experiment over a grid of settings and compare the runs.") { file, grid, set, output };
        command.SetAction(async (parse, cancel) =>
        {
            var path = parse.GetValue(file)!;
            var shared = parse.GetValue(set) ?? [];
            var combinations = SweepGrid.Combinations(parse.GetValue(grid)!);
            // Every combination is bound and validated before the first run starts.
            var specs = combinations.Select(c => (Combination: c, Spec: ExperimentFile.LoadValid(path, [.. shared, .. c]))).ToList();
            var checker = runners.Quiet();
            foreach (var (_, spec) in specs) checker.Check(spec);   // plugin options and data of every combination, before the first run
            var chosen = parse.GetValue(output);
            var name = $"{OutputFolder.SafeName(specs[0].Spec.Name)}-sweep-{DateTime.Now:yyyyMMdd-HHmmss}";
            using var claim = OutputFolder.Claim(chosen ?? Path.Combine("runs", name), "--out", unique: chosen is null);
            var dir = claim.Directory;

            var rows = new List<ComparisonRow>();
            for (int i = 0; i < specs.Count && !cancel.IsCancellationRequested; i++)
            {
                var (combination, spec) = specs[i];
                var label = SweepGrid.Label(combination);
                var runDir = Path.Combine(dir, $"{i + 1:D2}-{label}");
                var runner = runners.Create($"[{i + 1}/{specs.Count}] {label}");
                var result = await runner.RunAsync(spec with { Output = runDir }, cancel);
                var summary = RunFiles.ReadSummary(runDir);
                rows.Add(new ComparisonRow(label, $"{summary.Task}/{summary.Dataset}", summary.TrainableParameters, summary.PrimaryMetric,
                    summary.PrimaryScore, result.Seconds, runDir));
            }

            if (rows.Count > 0)
                ComparisonReport.Write(console, dir, "sweep", rows, null, $"{specs[0].Spec.Name}: {rows[0].Metric} by setting");
            console.MarkupLineInterpolated($"sweep folder: {dir}");
            return cancel.IsCancellationRequested ? Cli.Cancelled : 0;
        });
        return command;
    }
}
