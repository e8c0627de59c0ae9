using System.Text.Json;

namespace PluginGpt.Core.Hub;

/// <summary>The files a model snapshot needs: config.json, the safetensors weights (one file, or an index and every shard
/// it names), and the tokenizer/generation files when the repository has them.</summary>
static class ModelFiles
{
    public const string Config = "config.json";
    public const string Weights = "model.safetensors";
    public const string Index = "model.safetensors.index.json";

    public static readonly IReadOnlyList<string> Optional =
    [
        "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json",
        "vocab.json", "merges.txt",   // GPT-2's byte-level BPE files
    ];

    /// <summary>The shard files an index's <c>weight_map</c> names, each once, in order of first use.</summary>
    public static IReadOnlyList<string> Shards(string indexPath, string label)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{label}: {Index} has no weight_map object");
            var shards = map.EnumerateObject().Select(p => p.Value.GetString() ?? "").Distinct().ToList();
            if (shards.Count == 0) throw new CheckpointException($"{label}: {Index} has an empty weight_map");
            // The names become paths in the cache: nothing absolute, nothing climbing out of the snapshot.
            var bad = shards.FirstOrDefault(s => s.Length == 0 || s.StartsWith('/') || s.Contains('\\')
                || s.Split('/').Any(part => part is "" or "." or ".."));
            if (bad is not null) throw new CheckpointException($"{label}: {Index} names an invalid shard file '{bad}'");
            return shards;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new CheckpointException($"{label}: {Index} is not a valid index ({e.Message})");
        }
    }

    /// <summary>What the cached snapshot of <paramref name="commit"/> lacks: <c>Missing</c> the required files it does not
    /// have, <c>Unknown</c> optional files it neither has nor knows to be absent (.no_exist).</summary>
    public static (IReadOnlyList<string> Missing, IReadOnlyList<string> Unknown) Check(RepoCache cache, string commit, string label)
    {
        var missing = new List<string>();
        if (!cache.Has(commit, Config)) missing.Add(Config);
        if (cache.Has(commit, Index))
            missing.AddRange(Shards(cache.SnapshotFile(commit, Index), label).Where(s => !cache.Has(commit, s)));
        else if (!cache.Has(commit, Weights))
            missing.Add(cache.IsMarkedMissing(commit, Index) ? Weights : $"{Weights} (or {Index})");
        var unknown = Optional.Where(f => !cache.Has(commit, f) && !cache.IsMarkedMissing(commit, f)).ToList();
        return (missing, unknown);
    }
}
