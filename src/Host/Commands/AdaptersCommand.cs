using System.CommandLine;
using System.Globalization;
using PluginGpt.Core.Adapters;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt adapters combine A[:W] B[:W] … --type linear|cat|ties|dare_linear|dare_ties|magnitude_prune --out DIR</c>:
/// PEFT's <c>add_weighted_adapter</c> on LoRA adapters saved on disk. Sources are adapter folders (PEFT's layout) or finished
/// runs (their <c>best/</c>); from runs the result is a run folder too — the first run's config, task head and files with the
/// combined adapter — so <c>evaluate</c> and <c>predict</c> take it as it is.
/// </summary>
public sealed class AdaptersCommand(IAnsiConsole console) : ICliCommand
{
    public Command Build()
    {
        var sources = new Argument<string[]>("sources")
        {
            Description = "LoRA adapter folders or run folders, each PATH or PATH:WEIGHT (weight 1 when left out)",
            Arity = ArgumentArity.OneOrMore,
        };
        var type = new Option<string>("--type")
        {
            Description = $"how to combine: {string.Join(", ", LoraCombination.Types)} (PEFT's combination_type)",
            DefaultValueFactory = _ => "linear",
        };
        var density = new Option<double>("--density")
        {
            Description = "share of entries kept by ties, dare_* and magnitude_prune",
            DefaultValueFactory = _ => 0.5,
        };
        var seed = new Option<long>("--seed") { Description = "seed of DARE's random drop", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "new or empty folder for the combined adapter (or run)", Required = true };
        var combine = new Command("combine", "Combine LoRA adapters into one, as PEFT's add_weighted_adapter (linear, cat, TIES, DARE).")
        { sources, type, density, seed, output };
        combine.SetAction(parse =>
        {
            var request = new AdapterCombination([.. parse.GetValue(sources)!.Select(Source)], parse.GetValue(type)!,
                parse.GetValue(density), parse.GetValue(seed), parse.GetValue(output)!);
            var done = AdapterCombiner.Combine(request);
            string what = done.Runs ? "the run " + done.Target : done.Target;
            console.MarkupLineInterpolated($"{request.Sources.Count} LoRA adapters combined ({request.Type}, r = {done.Rank}) into {what}");
            return 0;
        });
        return new Command("adapters", "Work with saved adapters.") { combine };
    }

    static (string Path, double Weight) Source(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon > 0 && double.TryParse(text[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
            return (text[..colon], weight);
        return (text, 1.0);
    }
}
