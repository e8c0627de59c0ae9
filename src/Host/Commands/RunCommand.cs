using System.CommandLine;
using PluginGpt.Core.Training;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt run experiment.json [--set key=value]…</c>: one experiment through the shared loop.</summary>
public sealed class RunCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var file = new Argument<string?>("experiment")
        {
            Description = "experiment JSON file (see experiments/)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var set = new Option<string[]>("--set") { Description = "override a field, e.g. --set training.lr=3e-4 --set task.max_train=200" };
        var resume = new Option<string?>("--resume")
        {
            Description = "continue an interrupted run from its last checkpoint (RUN_DIR/checkpoint/), in its own folder",
        };
        var command = new Command("run", "Run an experiment: method × objective × task on a model, from one JSON file.")
        {
            file, set, resume,
        };
        command.SetAction(async (parse, cancel) =>
        {
            RunResult result;
            if (parse.GetValue(resume) is { } runDirectory)
            {
                if (parse.GetValue(file) is not null || (parse.GetValue(set)?.Length ?? 0) > 0)
                    throw new OptionsException("--resume: continues RUN_DIR's own experiment; give no experiment file or --set");
                result = await runners.Create(Path.GetFileName(Path.TrimEndingDirectorySeparator(runDirectory)))
                    .ResumeAsync(runDirectory, cancel);
            }
            else
            {
                var path = parse.GetValue(file) ?? throw new OptionsException("run: name an experiment file, or --resume RUN_DIR");
                var spec = ExperimentFile.LoadValid(path, parse.GetValue(set) ?? []);
                result = await runners.Create(spec.Name).RunAsync(spec, cancel);
            }
            if (RunFiles.ReadSummary(result.Directory).Stages is { } stages) console.Write(StageTable(stages));
            var table = new Table().AddColumns("metric", "value");
            foreach (var (k, v) in result.Metrics) table.AddRow(k, $"{v:F4}");
            table.AddRow("trainable parameters", $"{result.TrainableParameters:N0}");
            table.AddRow("seconds", $"{result.Seconds:F1}");
            console.Write(table);
            console.MarkupLineInterpolated($"run folder: {result.Directory}");
            return cancel.IsCancellationRequested ? Cli.Cancelled : 0;
        });
        return command;
    }

    /// <summary>A recipe's stages, one row each, every metric a column.</summary>
    static Table StageTable(IReadOnlyList<StageResult> stages)
    {
        var metrics = stages.SelectMany(s => s.Metrics.Keys).Distinct().ToList();
        var table = new Table().AddColumns(["stage", .. metrics]);
        foreach (var stage in stages)
            table.AddRow([stage.Name, .. metrics.Select(m => stage.Metrics.TryGetValue(m, out var v) ? $"{v:F4}" : "")]);
        return table;
    }
}
