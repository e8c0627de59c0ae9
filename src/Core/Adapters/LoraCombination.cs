using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Adapters;

/// <summary>A LoRA adapter in PEFT's layout, read from its folder: config and tensors (CPU, fp32).</summary>
public sealed record LoraAdapterFiles(string Directory, JsonObject Config, Dictionary<string, Tensor> Tensors) : IDisposable
{
    public int Rank { get; } = Number<int>(Directory, Config, "r");

    /// <summary>A required number of the config; anything else is a <see cref="CheckpointException"/> naming the file and key.</summary>
    static T Number<T>(string directory, JsonObject config, string key) =>
        config[key] is JsonValue v && v.TryGetValue<T>(out var n) ? n
            : throw new CheckpointException($"{Path.Combine(directory, AdapterFiles.ConfigFile)}: '{key}' must be a number");
    /// <summary>α/r, or α/√r with rsLoRA.</summary>
    public double Scaling
    {
        get
        {
            double alpha = Number<double>(Directory, Config, "lora_alpha");
            bool rs = Config["use_rslora"] is JsonValue v && v.TryGetValue<bool>(out var flag) && flag;
            return rs ? alpha / Math.Sqrt(Rank) : alpha / Rank;
        }
    }

    public static LoraAdapterFiles Read(string directory)
    {
        var config = AdapterFiles.ReadConfig(directory);
        string file = Path.Combine(directory, AdapterFiles.ConfigFile);
        if (config["peft_type"] is not JsonValue type || !type.TryGetValue<string>(out var name) || name != "LORA")
            throw new CheckpointException(
                $"{file}: peft_type {config["peft_type"]?.ToJsonString() ?? "missing"}; only LoRA adapters combine");
        if (config["use_dora"] is JsonValue d && d.TryGetValue<bool>(out var dora) && dora)
            throw new CheckpointException($"{file}: a DoRA adapter (use_dora): its magnitudes do not combine as LoRA factors do");
        var loaded = Safetensors.Load(Path.Combine(directory, AdapterFiles.WeightsFile));
        var tensors = loaded.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32));
        foreach (var (key, t) in loaded)
            if (!ReferenceEquals(t, tensors[key])) t.Dispose();   // a bf16/fp16 file: its own copy is not kept
        return new LoraAdapterFiles(directory, config, tensors);
    }

    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}

/// <summary>
/// PEFT's <c>add_weighted_adapter</c> for LoRA adapters saved on disk: <c>cat</c> stacks the scaled ranks (exactly
/// ΔW = Σ wᵢ·sᵢ·Bᵢ·Aᵢ, rank Σ rᵢ); <c>linear</c>, <c>ties</c>, <c>dare_linear</c>, <c>dare_ties</c> and
/// <c>magnitude_prune</c>
/// combine the A matrices and the B matrices separately with weights √(wᵢ·sᵢ) (all adapters of one rank r, as PEFT requires). The
/// result has scaling 1 (<c>lora_alpha</c> = r), as PEFT writes it.
/// </summary>
public static class LoraCombination
{
    public static readonly string[] Types = ["linear", "cat", "ties", "dare_linear", "dare_ties", "magnitude_prune"];

    /// <summary>What a run folder made by combining runs holds instead of metrics.json: the combination (it was never trained).</summary>
    public const string RunFile = "combination.json";

    public static (JsonObject Config, Dictionary<string, Tensor> Tensors) Combine(
        IReadOnlyList<(LoraAdapterFiles Adapter, double Weight)> adapters, string type, double density = 0.5, long seed = 0)
    {
        if (!Types.Contains(type)) throw new OptionsException($"--type: '{type}' is not one of {string.Join(", ", Types)}");
        if (adapters.Count < 2) throw new OptionsException("adapters combine: give at least two adapters");
        if (type is not ("linear" or "cat") && density is not (> 0 and <= 1))
            throw new OptionsException($"--density: must be in (0, 1], got {density}");
        // √(w·s) has no value for a negative weight (PEFT's math.sqrt refuses too); cat multiplies, so it negates an adapter.
        if (type != "cat" && adapters.FirstOrDefault(a => a.Weight < 0) is { Adapter: not null } negative)
            throw new OptionsException($"{negative.Adapter.Directory}: weight {negative.Weight} is negative; --type {type} weighs " +
                "the factors by √(w·s), use --type cat to subtract an adapter");
        var keys = adapters[0].Adapter.Tensors.Keys.Order().ToList();
        foreach (var (a, _) in adapters.Skip(1))
            if (!a.Tensors.Keys.Order().SequenceEqual(keys))
                throw new OptionsException($"{a.Directory}: adapts other modules than {adapters[0].Adapter.Directory}");
        if (type != "cat" && adapters.Select(a => a.Adapter.Rank).Distinct().Count() > 1)
            throw new OptionsException($"--type {type}: every adapter must have the same r (found " +
                $"{string.Join(", ", adapters.Select(a => a.Adapter.Rank))}); use --type cat for different ranks");

        int rank = type == "cat" ? adapters.Sum(a => a.Adapter.Rank) : adapters[0].Adapter.Rank;
        using var generator = new torch.Generator((ulong)seed);
        using var scope = torch.NewDisposeScope();   // intermediates freed; the results are moved out below
        var result = new Dictionary<string, Tensor>();
        foreach (var key in keys.Where(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            string module = key[..^".lora_A.weight".Length];
            var a = adapters.Select(x => x.Adapter.Tensors[module + ".lora_A.weight"]).ToList();
            var b = adapters.Select(x => x.Adapter.Tensors[module + ".lora_B.weight"]).ToList();
            if (type == "cat")
            {
                // B'·A' = Σ Bᵢ·(wᵢ·sᵢ·Aᵢ): exact.
                result[key] = torch.cat(a.Select((t, i) => t * (adapters[i].Weight * adapters[i].Adapter.Scaling)).ToList(), 0);
                result[module + ".lora_B.weight"] = torch.cat(b, 1);
                continue;
            }
            var weights = adapters.Select(x => Math.Sqrt(x.Weight * x.Adapter.Scaling)).ToList();
            result[key] = Merge(a, weights, type, density, generator);
            result[module + ".lora_B.weight"] = Merge(b, weights, type, density, generator);
        }
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        var config = (JsonObject)adapters[0].Adapter.Config.DeepClone();
        config["r"] = rank;
        config["lora_alpha"] = rank;
        config["use_rslora"] = false;
        config["plugingpt_combination"] = new JsonObject
        {
            ["type"] = type,
            ["density"] = type is "linear" or "cat" ? null : density,
            ["seed"] = type.StartsWith("dare", StringComparison.Ordinal) ? seed : null,
            ["adapters"] = new JsonArray(adapters.Select(x => (JsonNode)new JsonObject
            {
                ["path"] = x.Adapter.Directory,
                ["weight"] = x.Weight,
            }).ToArray()),
        };
        return (config, result);
    }

    static Tensor Merge(IReadOnlyList<Tensor> tensors, IReadOnlyList<double> weights, string type, double density,
        torch.Generator generator)
    {
        List<Tensor> ByMagnitude() => [.. tensors.Select(t => TaskArithmetic.MagnitudePrune(t, density))];
        List<Tensor> AtRandom() => [.. tensors.Select(t => TaskArithmetic.RandomPrune(t, density, generator))];
        return type switch
        {
            "linear" => TaskArithmetic.WeightedSum(tensors, weights),
            "ties" => TaskArithmetic.DisjointMerge(ByMagnitude(), weights),
            "dare_linear" => TaskArithmetic.WeightedSum(AtRandom(), weights),
            "dare_ties" => TaskArithmetic.DisjointMerge(AtRandom(), weights),
            _ => TaskArithmetic.WeightedSum(ByMagnitude(), weights),
        };
    }
}
