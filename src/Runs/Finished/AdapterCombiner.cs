using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Core.Adapters;

namespace PluginGpt.Runs;

/// <summary>What <c>adapters combine</c> asks for: LoRA adapter folders or finished runs with their weights, PEFT's combination
/// type and its density and seed, and the new folder.</summary>
public sealed record AdapterCombination(IReadOnlyList<(string Path, double Weight)> Sources, string Type, double Density, long Seed,
    string Output);

/// <summary>
/// PEFT's <c>add_weighted_adapter</c> on LoRA adapters saved on disk (<see cref="LoraCombination"/>). Sources are adapter folders
/// (PEFT's layout) or finished runs (their <c>best/</c>); from runs the result is a run folder too — the first run's config, task
/// head and files with the combined adapter — so <c>evaluate</c> and <c>predict</c> take it as it is.
/// </summary>
public static class AdapterCombiner
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes the combination into <see cref="AdapterCombination.Output"/> (claimed, written atomically) and says where,
    /// whether it is a run, and the combined rank.</summary>
    public static (string Target, bool Runs, string Rank) Combine(AdapterCombination request)
    {
        var target = OutputFolder.EnsureFree(request.Output, "--out");
        bool runs = AllRunsOrNone(request.Sources);
        var adapters = new List<(LoraAdapterFiles, double)>();
        try
        {
            foreach (var (path, weight) in request.Sources)
                adapters.Add((LoraAdapterFiles.Read(runs ? Path.Combine(path, "best") : path), weight));
            var (config, tensors) = LoraCombination.Combine(adapters, request.Type, request.Density, request.Seed);
            using var claim = OutputFolder.Claim(target, "--out", unique: false);
            string adapterDir = runs ? Path.Combine(claim.Directory, "best") : claim.Directory;
            if (runs)
            {
                CopyRun(request.Sources[0].Path, claim.Directory, config);
                AtomicFile.WriteAllText(Path.Combine(claim.Directory, LoraCombination.RunFile),
                    config["plugingpt_combination"]!.ToJsonString(Indented));
            }
            Directory.CreateDirectory(adapterDir);
            AtomicFile.WriteAllText(Path.Combine(adapterDir, AdapterFiles.ConfigFile), config.ToJsonString(Indented));
            Safetensors.Save(Path.Combine(adapterDir, AdapterFiles.WeightsFile), tensors);
            foreach (var t in tensors.Values) t.Dispose();
            return (target, runs, config["r"]!.ToJsonString());
        }
        finally
        {
            foreach (var (a, _) in adapters) a.Dispose();
        }
    }

    /// <summary>Whether the sources are runs (all of them) or adapter folders (all of them); a mixture, or a composed run (more
    /// than a LoRA adapter), is refused naming the folder.</summary>
    static bool AllRunsOrNone(IReadOnlyList<(string Path, double Weight)> sources)
    {
        bool runs = sources.All(s => IsRun(s.Path));
        if (!runs && sources.FirstOrDefault(s => IsRun(s.Path)) is { Path: not null } run)
            throw new OptionsException($"{run.Path}: a run folder among adapter folders; give all runs or all adapter folders " +
                $"(a run's adapter is {Path.Combine(run.Path, "best")})");
        foreach (var (path, _) in runs ? sources : [])
            if (JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))?["method"]?["with"] is not null)
                throw new OptionsException($"{path}: a composed run (method.with) holds more than a LoRA adapter; combine its best/");
        return runs;
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
        AtomicFile.WriteAllText(Path.Combine(target, "config.json"), config.ToJsonString(Indented));
        foreach (var file in Directory.GetFiles(run, "task.json")) File.Copy(file, Path.Combine(target, "task.json"));
        var best = Path.Combine(target, "best");
        Directory.CreateDirectory(best);
        foreach (var file in Directory.GetFiles(Path.Combine(run, "best")))
            if (Path.GetFileName(file) is not (AdapterFiles.ConfigFile or AdapterFiles.WeightsFile))
                File.Copy(file, Path.Combine(best, Path.GetFileName(file)));
    }
}
