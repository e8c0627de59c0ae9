using System.CommandLine;
using System.Text.Json;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt predict RUN_DIR --input FILE [--output FILE]</c>: a finished run (or a recipe's final model) labels new
/// examples, one JSON line each; <c>--adapter NAME=RUN_DIR …</c> instead loads several runs on one base and lets each line name
/// the adapter that answers it.</summary>
public sealed class PredictCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string?>("run")
        {
            Description = "a run folder written by 'plugingpt run' (a recipe's: its final model)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var input = new Option<string>("--input")
        {
            Description = "examples: .jsonl ({\"text\": …} or {\"text_a\", \"text_b\"}, \"options\" for multiple choice, \"adapter\" " +
                "to pick a named adapter) or plain text, one a line (a tab between a pair's texts)",
            Required = true,
        };
        var output = new Option<string?>("--output") { Description = "write the predictions here (JSON Lines) instead of stdout" };
        var task = new Option<string?>("--task") { Description = "for a multi-task run: which of its tasks (a data set's name)" };
        var adapters = new AdapterOptions();
        var command = new Command("predict", "Label new examples with a finished run's best weights, or with named adapters on one base.")
        {
            run, input, output, task, adapters.Adapters, adapters.Active,
        };
        command.SetAction((parse, cancel) =>
        {
            if (parse.GetValue(output) is { } target) OutputFile.CheckNew(target, "--output");
            var named = adapters.NamedInsteadOf(parse, parse.GetValue(run), "run");
            if (named.Count > 0 && parse.GetValue(task) is not null)
                throw new OptionsException("--task: named adapters are single-task runs; leave --task out");
            var lines = named.Count > 0
                ? WithAdapters(runners.Finished(), named, parse.GetValue(adapters.Active), parse.GetValue(input)!, cancel)
                : WithRun(runners.Finished(), parse.GetValue(run)!, parse.GetValue(task), parse.GetValue(input)!, cancel);
            if (parse.GetValue(output) is { } file)
            {
                AtomicFile.WriteAllText(file, string.Join("\n", lines) + "\n");
                console.MarkupLineInterpolated($"{lines.Count} predictions written to {file}");
            }
            else foreach (var line in lines) Console.WriteLine(line);
            return Task.FromResult(0);
        });
        return command;
    }

    static List<string> WithRun(FinishedRuns runs, string dir, string? task, string input, CancellationToken cancel)
    {
        var config = Path.Combine(dir, "config.json");
        if (!File.Exists(config)) throw new OptionsException($"{dir}: not a run folder (no config.json)");
        var data = runs.LoadTask(ExperimentFile.Load(config, []), task, dir);
        var examples = PredictionInput.Read(input, data.Format);
        var predictions = runs.Predict(dir, examples, task, cancel);
        return [.. examples.Zip(predictions, (e, p) => JsonSerializer.Serialize(Line(data, e, p)))];
    }

    /// <summary>Each adapter answers its own lines, all of them in one pass (the same batches as a run opened alone: exactly its
    /// answers); one switch per adapter, the lines kept in input order.</summary>
    static List<string> WithAdapters(FinishedRuns runs, IReadOnlyList<NamedRun> named, string? active, string input,
        CancellationToken cancel) => runs.OpenAdapters(named, active, set =>
    {
        var rows = PredictionInput.ReadRouted(input, set.Names.ToDictionary(n => n, n => set[n].Data.Format), set.Active!);
        var lines = new string[rows.Count];
        foreach (var group in rows.Select((r, i) => (r.Adapter, r.Example, Index: i)).GroupBy(r => r.Adapter)
                     .OrderBy(g => g.Key == set.Active ? 0 : 1))   // the active adapter first: one switch fewer
        {
            var predictions = set.Predict(group.Key, [.. group.Select(r => r.Example)], cancel);
            var entry = set[group.Key];
            foreach (var (row, prediction) in group.Zip(predictions))
            {
                var line = Line(entry.Data, row.Example, prediction);
                line["adapter"] = group.Key;
                lines[row.Index] = JsonSerializer.Serialize(line);
            }
        }
        return lines.ToList();
    });

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
