using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Host.Display;
using PluginGpt.Host.Experiments;
using PluginGpt.Host.Plugins;
using PluginGpt.Host.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt sweep EXPERIMENT.json --grid key=v1,v2 …</c>: one run per combination, compared in a table, JSON, Markdown and PNG.</summary>
public sealed class SweepCommand(IAnsiConsole console) : ICliCommand
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
            var specs = combinations.Select(c => { var s = ExperimentFile.Load(path, [.. shared, .. c]); ExperimentFile.Validate(s, path); return (Combination: c, Spec: s); }).ToList();
            var dir = Path.GetFullPath(parse.GetValue(output) ?? Path.Combine("runs", $"{specs[0].Spec.Name}-sweep-{DateTime.Now:yyyyMMdd-HHmmss}"));
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
                throw new ArgumentException($"--out: {dir} already exists and is not empty; sweeps are never written over");

            var catalog = PluginCatalog.ForCommandLine(parse);
            var rows = new List<(string Label, string Metric, double Value, long Trainable, double Seconds, string Run)>();
            for (int i = 0; i < specs.Count && !cancel.IsCancellationRequested; i++)
            {
                var (combination, spec) = specs[i];
                var label = SweepGrid.Label(combination);
                var runDir = Path.Combine(dir, $"{i + 1:D2}-{label}");
                var runner = new ExperimentRunner(catalog, (n, work) => TrainingDisplay.Run(console, $"[{i + 1}/{specs.Count}] {label}", n, work));
                var result = await runner.RunAsync(spec with { Output = runDir }, cancel);
                var metric = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "metrics.json"))).RootElement.GetProperty("primary_metric").GetString()!;
                rows.Add((label, metric, result.Metrics[metric], result.TrainableParameters, result.Seconds, runDir));
            }

            var table = new Table().AddColumns("run", "metric", "value", "trainable parameters", "seconds");
            foreach (var r in rows) table.AddRow(Markup.Escape(r.Label), r.Metric, $"{r.Value:F4}", $"{r.Trainable:N0}", $"{r.Seconds:F0}");
            console.Write(table);
            AtomicFile.WriteAllText(Path.Combine(dir, "sweep.json"), JsonSerializer.Serialize(rows.Select(r => new
            { run = r.Label, metric = r.Metric, value = r.Value, trainableParameters = r.Trainable, seconds = r.Seconds, folder = r.Run }), new JsonSerializerOptions { WriteIndented = true }));
            var md = new StringBuilder("| run | metric | value | trainable parameters | seconds |\n|---|---|---:|---:|---:|\n");
            foreach (var r in rows) md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Label} | {r.Metric} | {r.Value:F4} | {r.Trainable:N0} | {r.Seconds:F0} |"));
            AtomicFile.WriteAllText(Path.Combine(dir, "sweep.md"), md.ToString());
            if (rows.Count > 0) MethodChart.Write(Path.Combine(dir, "sweep.png"), rows.Select(r => (r.Label, r.Value)).ToList(), null, $"{specs[0].Spec.Name}: {rows[0].Metric} by setting");
            console.MarkupLineInterpolated($"sweep folder: {dir}");
            return cancel.IsCancellationRequested ? 130 : 0;
        });
        return command;
    }
}
