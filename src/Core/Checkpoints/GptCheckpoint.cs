using System.Text.Json;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Checkpoints;

/// <summary>
/// A model directory in Hugging Face GPT-2 form: <c>config.json</c> + <c>model.safetensors</c> with GPT-2 key names and
/// Conv1D layout ([in, out]) for the four projection weights, so HF's <c>gpt2</c> files load as they are.
/// </summary>
public static class GptCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>HF's Conv1D stores [in, out]; our Linear stores [out, in].</summary>
    static bool IsConv1D(string key) => key.EndsWith(".c_attn.weight") || key.EndsWith(".c_proj.weight") || key.EndsWith(".c_fc.weight");

    /// <summary>Buffers and aliases HF files may carry that hold no weights of their own.</summary>
    static bool IsIgnorable(string key, GptConfig config) =>
        key.EndsWith(".attn.bias") || key.EndsWith(".attn.masked_bias") || (config.TiedHead && key == "lm_head.weight");

    public static void Save(Decoder model, string directory)
    {
        Directory.CreateDirectory(directory);
        using var scope = torch.NewDisposeScope();   // the transposed views of FileLayout
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), JsonSerializer.Serialize(model.Config, Json));
        Safetensors.Save(Path.Combine(directory, WeightsFile), FileLayout(model), new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>The weights as the file holds them: GPT-2 names, projection weights transposed to Conv1D's [in, out].</summary>
    public static IReadOnlyDictionary<string, Tensor> FileLayout(Decoder model) =>
        BaseWeights(model).ToDictionary(kv => kv.Key, kv => IsConv1D(kv.Key) ? kv.Value.t() : kv.Value);

    /// <summary>The model's own weights by GPT-2 name (a tied head once, as <c>wte.weight</c>); a Linear a method has wrapped
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

    public static GptConfig ReadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: file not found (a model directory needs {ConfigFile} and {WeightsFile})");
        GptConfig config;
        try
        {
            config = JsonSerializer.Deserialize<GptConfig>(File.ReadAllText(path))
                ?? throw new CheckpointException($"{path}: empty config");
        }
        catch (JsonException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        try { config.Validate(); }
        catch (OptionsException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    /// <summary>Builds the model a directory describes and loads its weights.</summary>
    public static Decoder Load(string directory, Device? device = null)
    {
        var model = new Decoder(ReadConfig(directory));
        LoadWeights(model, Path.Combine(directory, WeightsFile));
        if (device is not null) model.to(device);
        return model;
    }

    /// <summary>Copies the file's weights into <paramref name="model"/>; any missing, unexpected or misshapen key is an error naming
    /// it.</summary>
    public static void LoadWeights(Decoder model, string path)
    {
        var expected = ExpectedShapes(model.Config);
        using var scope = torch.NewDisposeScope();   // transposed views, conversions and the file's tensors
        var file = Safetensors.Load(path);
        try
        {
            var byName = new Dictionary<string, Tensor>();
            foreach (var (rawKey, tensor) in file)
            {
                var key = rawKey.StartsWith("transformer.") ? rawKey["transformer.".Length..] : rawKey;
                if (IsIgnorable(key, model.Config)) continue;
                if (!expected.TryGetValue(key, out var shape))
                    throw new CheckpointException(
                        $"{path}: unexpected key '{rawKey}' (not a weight of this {model.Config.Layers}-layer model)");
                // Weights are real numbers: an integer dtype of the same width would load and change every value.
                if (!tensor.is_floating_point())
                    throw new CheckpointException($"{path}: key '{rawKey}' has dtype {tensor.dtype}, not a floating-point weight");
                var stored = IsConv1D(key) ? tensor.t() : tensor;
                if (!stored.shape.SequenceEqual(shape))
                    throw new CheckpointException($"{path}: key '{rawKey}' has shape [{string.Join(", ", tensor.shape)}], " +
                        $"expected [{string.Join(", ", IsConv1D(key) ? shape.Reverse() : shape)}]");
                byName[key] = stored;
            }
            var missing = expected.Keys.Where(k => !byName.ContainsKey(k)).ToList();
            if (missing.Count > 0)
                throw new CheckpointException(
                    $"{path}: missing key '{missing[0]}'" + (missing.Count > 1 ? $" (and {missing.Count - 1} more)" : ""));

            using var _ = torch.no_grad();
            var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (key, value) in byName)
            {
                var target = parameters[key];
                target.copy_(value.to(target.dtype, target.device));
            }
        }
        finally { foreach (var t in file.Values) t.Dispose(); }
    }

    /// <summary>Every weight a model of this config has, by GPT-2 name, in our [out, in] layout.</summary>
    public static IReadOnlyDictionary<string, long[]> ExpectedShapes(GptConfig c)
    {
        long d = c.ModelDim, ff = c.InnerDim;
        var shapes = new Dictionary<string, long[]> { ["wte.weight"] = [c.Vocab, d], ["wpe.weight"] = [c.Context, d] };
        for (int i = 0; i < c.Layers; i++)
        {
            var p = $"h.{i}.";
            shapes[p + "ln_1.weight"] = [d]; shapes[p + "ln_1.bias"] = [d];
            shapes[p + "attn.c_attn.weight"] = [3 * d, d]; shapes[p + "attn.c_attn.bias"] = [3 * d];
            shapes[p + "attn.c_proj.weight"] = [d, d]; shapes[p + "attn.c_proj.bias"] = [d];
            shapes[p + "ln_2.weight"] = [d]; shapes[p + "ln_2.bias"] = [d];
            shapes[p + "mlp.c_fc.weight"] = [ff, d]; shapes[p + "mlp.c_fc.bias"] = [ff];
            shapes[p + "mlp.c_proj.weight"] = [d, ff]; shapes[p + "mlp.c_proj.bias"] = [d];
        }
        if (c.Norm == NormPlacement.Pre) { shapes["ln_f.weight"] = [d]; shapes["ln_f.bias"] = [d]; }
        if (!c.TiedHead) shapes["lm_head.weight"] = [c.Vocab, d];
        return shapes;
    }
}
