using System.CommandLine;
using PluginGpt.Runs.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt compare-pretraining RUN_DIR… --out DIR</c>: pre-training runs side by side (a chart and a table).</summary>
public sealed class ComparePretrainingCommand(IAnsiConsole console) : ICliCommand
{
    public Command Build()
    {
        var runs = new Argument<string[]>("runs") { Description = "pre-training output folders", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "folder for pretrain-comparison.{png,md}", Required = true };
        var command = new Command("compare-pretraining",
            "Compare pre-training runs (e.g. shapes at one budget): held-out loss against training time, parameters, tokens/s.")
        {
            runs, output,
        };
        command.SetAction(parse =>
        {
            var (png, md) = PretrainComparison.Write(parse.GetValue(runs)!, parse.GetValue(output)!);
            console.Write(new Text(File.ReadAllText(md)));
            console.MarkupLineInterpolated($"chart: {png}  table: {md}");
            return 0;
        });
        return command;
    }
}
