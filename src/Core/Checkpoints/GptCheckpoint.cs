using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Checkpoints;

/// <summary>
/// A model directory in Hugging Face form: <c>config.json</c> + <c>model.safetensors</c> (or shards listed by
/// <c>model.safetensors.index.json</c>) with the family's Hugging Face key names — GPT-2's (Conv1D layout [in, out] for the four
/// projection weights) or Llama's (<c>model.layers.N.self_attn.q_proj.weight</c>, …) — so Hugging Face's files load as they are.
/// fp16 and bf16 tensors load into the model's fp32 master weights.
/// </summary>
public static class GptCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>How <see cref="Save"/> writes weights: one file or shards of at most <paramref name="MaxShardBytes"/>, in
    /// <paramref name="Dtype"/> (fp32 by default; <c>config.json</c>'s <c>torch_dtype</c> says which).</summary>
    public sealed record SaveOptions(long MaxShardBytes = 0, ScalarType Dtype = ScalarType.Float32);

    public static void Save(Decoder model, string directory, SaveOptions? options = null)
    {
        options ??= new SaveOptions();
        Directory.CreateDirectory(directory);
        using var scope = torch.NewDisposeScope();   // the transposed views and conversions of FileLayout
        var dtypeName = options.Dtype switch
        {
            ScalarType.Float32 => "float32",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float16 => "float16",
            _ => throw new ArgumentException($"cannot save weights as {options.Dtype}"),
        };
        var config = ModelConfigFile.Serialize(model.Config with { TorchDtype = dtypeName });
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), config);
        var tensors = FileLayout(model)
            .ToDictionary(kv => kv.Key, kv => kv.Value.dtype == options.Dtype ? kv.Value : kv.Value.to(options.Dtype));
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        if (options.MaxShardBytes <= 0) { Safetensors.Save(Path.Combine(directory, WeightsFile), tensors, metadata); return; }
        SaveShards(directory, tensors, options.MaxShardBytes, metadata);
    }

    /// <summary>Hugging Face's sharded layout: <c>model-0000i-of-0000n.safetensors</c> files filled in key order up to the size
    /// limit, and the index mapping every key to its file.</summary>
    static void SaveShards(string directory, Dictionary<string, Tensor> tensors, long maxBytes, Dictionary<string, string> metadata)
    {
        var shards = new List<List<string>> { new() };
        long size = 0, total = 0;
        foreach (var key in tensors.Keys.Order(StringComparer.Ordinal))
        {
            long bytes = tensors[key].NumberOfElements * tensors[key].ElementSize;
            if (size > 0 && size + bytes > maxBytes) { shards.Add([]); size = 0; }
            shards[^1].Add(key); size += bytes; total += bytes;
        }
        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Safetensors.Save(Path.Combine(directory, name), shards[i].Select(k => KeyValuePair.Create(k, tensors[k])), metadata);
            foreach (var key in shards[i]) weightMap[key] = name;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        AtomicFile.WriteAllText(Path.Combine(directory, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The weights as the file holds them: Hugging Face names, GPT-2's projection weights transposed to Conv1D's
    /// [in, out].</summary>
    public static IReadOnlyDictionary<string, Tensor> FileLayout(Decoder model)
    {
        var names = WeightNames.Of(model.Config);
        return BaseWeights(model).ToDictionary(kv => names.FileKey(kv.Key), kv => names.IsConv1D(kv.Key) ? kv.Value.t() : kv.Value);
    }

    /// <summary>The model's own weights by module name (a tied head once, as the token embedding); a Linear a method has wrapped
    /// (<c>h.0.attn.c_attn.base_layer.weight</c>) counts under its own name, so a merged model saves as a plain one.</summary>
    public static IReadOnlyDictionary<string, Tensor> BaseWeights(Decoder model)
    {
        var expected = ExpectedShapes(model.Config);
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, p) in model.named_parameters())
        {
            var own = name.Replace(".base_layer.", ".", StringComparison.Ordinal);
            if (expected.ContainsKey(own)) dict[own] = p;
        }
        return dict;
    }

    public static GptConfig ReadConfig(string directory) => ModelConfigFile.Read(Path.Combine(directory, ConfigFile));

    /// <summary>Builds the model a directory describes and loads its weights.</summary>
    public static Decoder Load(string directory, Device? device = null)
    {
        var model = new Decoder(ReadConfig(directory));
        try { LoadWeightsFrom(model, directory); }
        catch { model.Dispose(); throw; }
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>The weight files of a model directory: the shards its index names (each must exist), else
    /// <c>model.safetensors</c>.</summary>
    public static IReadOnlyList<string> WeightFiles(string directory)
    {
        var index = Path.Combine(directory, IndexFile);
        if (!File.Exists(index))
        {
            var single = Path.Combine(directory, WeightsFile);
            return File.Exists(single) ? [single]
                : throw new CheckpointException($"{single}: file not found (a model directory needs {WeightsFile} or {IndexFile})");
        }
        JsonObject map;
        try
        {
            map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject ?? throw new JsonException("no weight_map object");
        }
        catch (JsonException e) { throw new CheckpointException($"{index}: weight_map: {e.Message}"); }
        var files = new List<string>();
        foreach (var (key, file) in map)
        {
            var name = file?.GetValueKind() == JsonValueKind.String ? file.GetValue<string>() : null;
            if (name is null || name.Contains('/') || name.Contains('\\') || name.StartsWith('.'))
                throw new CheckpointException(
                    $"{index}: weight_map.{key}: expected a file name beside the index, got {file?.ToJsonString()}");
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) throw new CheckpointException($"{index}: weight_map.{key}: shard '{name}' not found");
            if (!files.Contains(path)) files.Add(path);
        }
        return files;
    }

    /// <summary>Copies a directory's weights (one file or shards) into <paramref name="model"/>.</summary>
    public static void LoadWeightsFrom(Decoder model, string directory) => LoadWeights(model, WeightFiles(directory));

    /// <summary>Copies one file's weights into <paramref name="model"/>.</summary>
    public static void LoadWeights(Decoder model, string path) => LoadWeights(model, [path]);

    /// <summary>Copies the files' weights into <paramref name="model"/>; any missing, unexpected, duplicated or misshapen key is an
    /// error naming the file and the key.</summary>
    static void LoadWeights(Decoder model, IReadOnlyList<string> paths)
    {
        var expected = ExpectedShapes(model.Config);
        var names = WeightNames.Of(model.Config);
        using var scope = torch.NewDisposeScope();   // transposed views, conversions and the files' tensors
        var byName = new Dictionary<string, Tensor>();
        foreach (var path in paths)
        {
            foreach (var (rawKey, tensor) in Safetensors.Load(path))
            {
                var key = names.ModuleKey(rawKey);
                if (names.IsIgnorable(key)) continue;
                if (!expected.TryGetValue(key, out var shape))
                    throw new CheckpointException(
                        $"{path}: unexpected key '{rawKey}' " +
                        $"(not a weight of this {model.Config.Layers}-layer {model.Config.ModelType} model)");
                // Weights are real numbers: an integer dtype of the same width would load and change every value.
                if (!tensor.is_floating_point())
                    throw new CheckpointException($"{path}: key '{rawKey}' has dtype {tensor.dtype}, not a floating-point weight");
                var stored = names.IsConv1D(key) ? tensor.t() : tensor;
                if (!stored.shape.SequenceEqual(shape))
                    throw new CheckpointException($"{path}: key '{rawKey}' has shape [{string.Join(", ", tensor.shape)}], " +
                        $"expected [{string.Join(", ", names.IsConv1D(key) ? shape.Reverse() : shape)}]");
                if (!byName.TryAdd(key, stored)) throw new CheckpointException($"{path}: key '{rawKey}' appears in more than one file");
            }
        }
        var missing = expected.Keys.Where(k => !byName.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new CheckpointException($"{paths[0]}{(paths.Count > 1 ? $" (+{paths.Count - 1} shards)" : "")}: missing key " +
                $"'{names.FileKey(missing[0])}'" + (missing.Count > 1 ? $" (and {missing.Count - 1} more)" : ""));

        using var _ = torch.no_grad();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, value) in byName)
        {
            var target = parameters[key];
            target.copy_(value.to(target.dtype, target.device));
        }
    }

    /// <summary>Every weight a model of this config has, by module name, in our [out, in] layout.</summary>
    public static IReadOnlyDictionary<string, long[]> ExpectedShapes(GptConfig c) => WeightNames.Of(c).Shapes(c);
}
