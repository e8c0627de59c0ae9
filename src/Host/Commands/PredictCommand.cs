using System.CommandLine;
using System.Text.Json;
using PluginGpt.Host.Experiments;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt predict RUN_DIR --input FILE [--output FILE]</c>: a finished run (or a recipe's final model) labels new
/// examples, one JSON line each.</summary>
public sealed class PredictCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string>("run") { Description = "a run folder written by 'plugingpt run' (a recipe's: its final model)" };
        var input = new Option<string>("--input")
        {
            Description = "examples: .jsonl ({\"text\": …} or {\"text_a\", \"text_b\"}, \"options\" for multiple choice) or " +
                "plain text, one a line (a tab between a pair's texts)",
            Required = true,
        };
        var output = new Option<string?>("--output") { Description = "write the predictions here (JSON Lines) instead of stdout" };
        var task = new Option<string?>("--task") { Description = "for a multi-task run: which of its tasks (a data set's name)" };
        var command = new Command("predict", "Label new examples with a finished run's best weights.") { run, input, output, task };
        command.SetAction((parse, cancel) =>
        {
            var dir = parse.GetValue(run)!;
            if (parse.GetValue(output) is { } target) OutputFile.CheckNew(target, "--output");
            var config = Path.Combine(dir, "config.json");
            if (!File.Exists(config)) throw new OptionsException($"{dir}: not a run folder (no config.json)");
            var runner = runners.Quiet();
            var data = runner.LoadTask(ExperimentFile.Load(config, []), parse.GetValue(task), dir);
            var examples = PredictionInput.Read(parse.GetValue(input)!, data.Format);
            var predictions = runner.Predict(dir, examples, parse.GetValue(task), cancel);
            var lines = examples.Zip(predictions, (e, p) => JsonSerializer.Serialize(Line(data, e, p)));
            if (parse.GetValue(output) is { } file)
            {
                AtomicFile.WriteAllText(file, string.Join("\n", lines) + "\n");
                console.MarkupLineInterpolated($"{predictions.Count} predictions written to {file}");
            }
            else foreach (var line in lines) Console.WriteLine(line);
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>One output line: the input, the label (a name, an option index, or a regression value) and the distribution.</summary>
    static Dictionary<string, object?> Line(TaskData task, Example example, Prediction p)
    {
        var line = new Dictionary<string, object?> { ["text"] = example.Segments };
        if (p.Invalid) line["invalid"] = true;   // a generated answer outside the label set
        if (task.IsRegression) line["value"] = p.Score;
        else if (task.Format == InputFormat.MultipleChoice) line["option"] = p.Label;
        else line["label"] = p.Label >= 0 ? task.Labels[p.Label] : null;
        line["score"] = p.Score;
        line["probabilities"] = task.Labels.Count == p.Probabilities.Count
            ? task.Labels.Zip(p.Probabilities).ToDictionary(x => x.First, x => x.Second)
            : p.Probabilities;
        return line;
    }
}
