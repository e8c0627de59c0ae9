using System.CommandLine;
using PluginGpt.Host.Bench;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt bench compare</c>: commands run alternately N rounds; each one's figure with min/median/max and its
/// ratio to the first command's, round by round.</summary>
public static class BenchCompareCommand
{
    public static Command Build(IAnsiConsole console, Action<ParseResult, bool, Dictionary<string, object>, Table?> report)
    {
        var runs = new Option<string[]>("--run")
        {
            Description = "LABEL|FIGURE|COMMAND: a shell command that prints JSON, and the field to read (repeat; the first is " +
                "the reference)",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3, Description = "rounds of all commands, alternating" };
        var json = new Option<bool>("--json") { Description = "print the figures as JSON" };
        var command = new Command("compare",
            "Run commands (ours, a peer's) alternately N rounds and report each figure and its ratio to the first command's.")
        { runs, rounds, json };
        command.SetAction((parse, cancel) =>
        {
            var commands = parse.GetValue(runs)!.Select(ComparedCommand.Parse).ToList();
            var results = BenchComparison.Run(commands, parse.GetValue(rounds), line => Console.Error.WriteLine(line), cancel);
            var figures = new Dictionary<string, object> { ["rounds"] = parse.GetValue(rounds) };
            foreach (var r in results)
            {
                string name = r.Command.Label;
                figures[$"{name}_{r.Command.Figure}_min"] = Math.Round(r.Values.Min(), 3);
                figures[$"{name}_{r.Command.Figure}_median"] = Math.Round(ComparisonTable.Median(r.Values), 3);
                figures[$"{name}_{r.Command.Figure}_max"] = Math.Round(r.Values.Max(), 3);
                if (r == results[0] || r.RatiosToFirst is not { Count: > 0 } ratios) continue;   // no round had a non-zero first
                figures[$"{name}_over_{results[0].Command.Label}_min"] = Math.Round(ratios.Min(), 3);
                figures[$"{name}_over_{results[0].Command.Label}_median"] = Math.Round(ComparisonTable.Median(ratios), 3);
                figures[$"{name}_over_{results[0].Command.Label}_max"] = Math.Round(ratios.Max(), 3);
            }
            report(parse, parse.GetValue(json), figures, ComparisonTable.Build(results));
            return Task.FromResult(0);
        });
        return command;
    }
}
