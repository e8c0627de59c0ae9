using System.CommandLine;
using PluginGpt.Host.Experiments;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt evaluate RUN_DIR [--json]</c>: reload a run's best weights (method + task head) and score its dev set.</summary>
public sealed class EvaluateCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string>("run") { Description = "a run folder written by 'plugingpt run'" };
        var json = new Option<bool>("--json") { Description = "print the metrics as JSON" };
        var command = new Command("evaluate", "Reload a finished run's best checkpoint and score the dev set again.") { run, json };
        command.SetAction((parse, cancel) =>
        {
            var dir = parse.GetValue(run)!;
            if (!File.Exists(Path.Combine(dir, "config.json"))) throw new OptionsException($"{dir}: not a run folder (no config.json)");
            var metrics = runners.Quiet().Evaluate(dir, cancel);
            if (parse.GetValue(json)) { Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(metrics)); return Task.FromResult(0); }
            var table = new Table().AddColumns("metric", "value");
            foreach (var (k, v) in metrics) table.AddRow(k, $"{v:F4}");
            console.Write(table);
            return Task.FromResult(0);
        });
        return command;
    }
}
