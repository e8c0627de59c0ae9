using System.CommandLine;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt evaluate RUN_DIR [--json]</c>: reload a run's best weights (method + task head) and score its dev set;
/// <c>--adapter NAME=RUN_DIR …</c>: several runs on one base, each scored on its own dev set.</summary>
public sealed class EvaluateCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string?>("run") { Description = "a run folder written by 'plugingpt run'", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "print the metrics as JSON" };
        var adapters = new AdapterOptions();
        var command = new Command("evaluate", "Reload a finished run's best checkpoint and score the dev set again; with --adapter, " +
            "each named run on one base, each on its own dev set.") { run, json, adapters.Adapters };
        command.SetAction((parse, cancel) =>
        {
            var named = adapters.NamedInsteadOf(parse, parse.GetValue(run), "run");
            if (named.Count > 0) return Task.FromResult(Show(parse.GetValue(json), runners.Finished().OpenAdapters(named, null, set =>
                set.Names.ToDictionary(name => name, name => set.Evaluate(name, cancel)))));
            var dir = parse.GetValue(run)!;
            if (!File.Exists(Path.Combine(dir, "config.json"))) throw new OptionsException($"{dir}: not a run folder (no config.json)");
            var metrics = runners.Finished().Evaluate(dir, cancel);
            if (parse.GetValue(json)) { Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(metrics)); return Task.FromResult(0); }
            var table = new Table().AddColumns("metric", "value");
            foreach (var (k, v) in metrics) table.AddRow(k, $"{v:F4}");
            console.Write(table);
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>Each named run's metrics: JSON keyed by name, or one table.</summary>
    int Show(bool json, Dictionary<string, IReadOnlyDictionary<string, double>> byName)
    {
        if (json) { Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(byName)); return 0; }
        var table = new Table().AddColumns("adapter", "metric", "value");
        foreach (var (name, metrics) in byName)
            foreach (var (k, v) in metrics) table.AddRow(Markup.Escape(name), k, $"{v:F4}");
        console.Write(table);
        return 0;
    }
}
