using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
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
            var target = OutputFolder.EnsureFree(parse.GetValue(output)!, "--out");
            var parsed = parse.GetValue(sources)!.Select(Source).ToList();
            bool runs = parsed.All(s => IsRun(s.Path));
            if (!runs && parsed.FirstOrDefault(s => IsRun(s.Path)) is { Path: not null } run)
                throw new OptionsException($"{run.Path}: a run folder among adapter folders; give all runs or all adapter folders " +
                    $"(a run's adapter is {Path.Combine(run.Path, "best")})");
            foreach (var (path, _) in runs ? parsed : [])
                if (JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))?["method"]?["with"] is not null)
                    throw new OptionsException($"{path}: a composed run (method.with) holds more than a LoRA adapter; combine its best/");
            var adapters = new List<(LoraAdapterFiles, double)>();
            try
            {
                foreach (var (path, weight) in parsed)
                    adapters.Add((LoraAdapterFiles.Read(runs ? Path.Combine(path, "best") : path), weight));
                var (config, tensors) =
                    LoraCombination.Combine(adapters, parse.GetValue(type)!, parse.GetValue(density), parse.GetValue(seed));
                using var claim = OutputFolder.Claim(target, "--out", unique: false);
                string adapterDir = runs ? Path.Combine(claim.Directory, "best") : claim.Directory;
                if (runs)
                {
                    CopyRun(parsed[0].Path, claim.Directory, config);
                    AtomicFile.WriteAllText(Path.Combine(claim.Directory, LoraCombination.RunFile),
                        config["plugingpt_combination"]!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                }
                Directory.CreateDirectory(adapterDir);
                AtomicFile.WriteAllText(Path.Combine(adapterDir, AdapterFiles.ConfigFile),
                    config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                Safetensors.Save(Path.Combine(adapterDir, AdapterFiles.WeightsFile), tensors);
                foreach (var t in tensors.Values) t.Dispose();
                string what = runs ? "the run " + target : target;
                string how = $"{parse.GetValue(type)}, r = {config["r"]}";
                console.MarkupLineInterpolated($"{parsed.Count} LoRA adapters combined ({how}) into {what}");
            }
            finally
            {
                foreach (var (a, _) in adapters) a.Dispose();
            }
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

    static bool IsRun(string path) => File.Exists(Path.Combine(path, "config.json")) && Directory.Exists(Path.Combine(path, "best"));

    /// <summary>The first run's config (its LoRA options now the combination's rank, scaling 1), task file and objective's saved
    /// state (the head), so the new folder reopens as a run.</summary>
    static void CopyRun(string run, string target, JsonObject adapterConfig)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!.AsObject();
        var options = config["method"]!["options"] as JsonObject ?? [];
        options["r"] = adapterConfig["r"]!.DeepClone();
        options["lora_alpha"] = adapterConfig["lora_alpha"]!.DeepClone();
        options["use_rslora"] = false;
        config["method"]!["options"] = options;
        config["output"] = target;
        AtomicFile.WriteAllText(Path.Combine(target, "config.json"),
            config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        foreach (var file in Directory.GetFiles(run, "task.json")) File.Copy(file, Path.Combine(target, "task.json"));
        var best = Path.Combine(target, "best");
        Directory.CreateDirectory(best);
        foreach (var file in Directory.GetFiles(Path.Combine(run, "best")))
            if (Path.GetFileName(file) is not (AdapterFiles.ConfigFile or AdapterFiles.WeightsFile))
                File.Copy(file, Path.Combine(best, Path.GetFileName(file)));
    }
}
