using System.Text.Json;
using System.Text.Json.Nodes;

namespace PluginGpt.Core.Checkpoints;

/// <summary>
/// <c>config.json</c> as Hugging Face writes it for each family: GPT-2's names bind onto <see cref="GptConfig"/> as they are;
/// a Llama or Qwen2 config (<c>hidden_size</c>, <c>num_hidden_layers</c>, …) is mapped field by field, with Hugging Face's
/// defaults for what it leaves out, and written back with the same names.
/// </summary>
public static class ModelConfigFile
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The config a file describes; any field that does not fit is an error naming the file and the field.</summary>
    public static GptConfig Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found (a model directory needs config.json)");
        GptConfig config;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new CheckpointException($"{path}: expected a JSON object");
            var type = node["model_type"] is { } t ? Field<string>(t, "model_type") : "gpt2";
            config = type is "llama" or "qwen2" ? FromLlama(node, type)
                : node.Deserialize<GptConfig>() ?? throw new CheckpointException($"{path}: empty config");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException($"{path}: {e.Message}");
        }
        catch (OptionsException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        try { config.Validate(); }
        catch (OptionsException e) { throw new CheckpointException($"{path}: {e.Message}"); }
        return config;
    }

    static GptConfig FromLlama(JsonObject node, string type)
    {
        T Required<T>(string name) => node[name] is { } value ? Field<T>(value, name) : throw new OptionsException($"{name} is missing");
        T Optional<T>(string name, T fallback) => node[name] is { } value ? Field<T>(value, name) : fallback;
        // transformers 5 moves rope_theta and the scaling into rope_parameters; older files have rope_theta and rope_scaling.
        var rope = node["rope_parameters"] as JsonObject;
        foreach (var (field, scaling) in new[] { ("rope_scaling", node["rope_scaling"]), ("rope_parameters", rope) })
            if (scaling is JsonObject s && (s["rope_type"] ?? s["type"])?.ToString() is { } kind && kind != "default")
                throw new OptionsException($"{field}: rope type '{kind}' is not supported; only plain rotary positions");
        if (Optional("mlp_bias", false)) throw new OptionsException("mlp_bias: MLP biases are not supported");
        int heads = Required<int>("num_attention_heads");
        if (node["head_dim"] is { } headDim && headDim.GetValue<int>() * heads != Required<int>("hidden_size"))
            throw new OptionsException($"head_dim ({headDim}) × num_attention_heads must equal hidden_size");
        if (Optional("use_sliding_window", false))
            throw new OptionsException("use_sliding_window: sliding-window attention is not supported");
        return new GptConfig
        {
            ModelType = type,
            ModelDim = Required<int>("hidden_size"),
            FeedForwardDim = Required<int>("intermediate_size"),
            Layers = Required<int>("num_hidden_layers"),
            Heads = heads,
            KeyValueHeadCount = Optional<int?>("num_key_value_heads", null),
            Vocab = Required<int>("vocab_size"),
            Context = Optional("max_position_embeddings", 2048),
            LayerNormEpsilon = Optional("rms_norm_eps", 1e-6),
            RopeTheta = rope?["rope_theta"] is { } theta ? Field<double>(theta, "rope_parameters.rope_theta")
                : Optional("rope_theta", 10000.0),
            Activation = Optional("hidden_act", "silu"),
            TiedHead = Optional("tie_word_embeddings", false),
            // Qwen2 has q/k/v biases by design (its config has no field for them); Llama has them only if attention_bias says so.
            AttentionBias = type == "qwen2" || Optional("attention_bias", false),
            AttentionDropout = Optional("attention_dropout", 0.0),
            Norm = NormPlacement.Pre,
            TorchDtype = Optional("torch_dtype", "float32"),
        };
    }

    /// <summary>A field's value as <typeparamref name="T"/>, or an error naming the field and what it holds.</summary>
    static T Field<T>(JsonNode value, string name)
    {
        try { return value.GetValue<T>(); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            var expected = typeof(T) == typeof(string) ? "a string" : "a number";
            throw new OptionsException($"{name}: expected {expected}, got {value.ToJsonString()}");
        }
    }

    /// <summary>The text of <c>config.json</c> for <paramref name="config"/>, in its family's names.</summary>
    public static string Serialize(GptConfig config)
    {
        if (!config.IsLlamaFamily) return JsonSerializer.Serialize(config, Indented);
        var node = new JsonObject
        {
            ["architectures"] = new JsonArray(config.ModelType == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = config.ModelType,
            ["hidden_size"] = config.ModelDim,
            ["intermediate_size"] = config.InnerDim,
            ["num_hidden_layers"] = config.Layers,
            ["num_attention_heads"] = config.Heads,
            ["num_key_value_heads"] = config.KeyValueHeads,
            ["vocab_size"] = config.Vocab,
            ["max_position_embeddings"] = config.Context,
            ["rms_norm_eps"] = config.LayerNormEpsilon,
            ["rope_theta"] = config.RopeTheta,
            ["hidden_act"] = config.Activation,
            ["tie_word_embeddings"] = config.TiedHead,
            ["attention_dropout"] = config.AttentionDropout,
            ["torch_dtype"] = config.TorchDtype,
        };
        if (config.ModelType == "llama") node["attention_bias"] = config.AttentionBias;
        return node.ToJsonString(Indented);
    }
}
