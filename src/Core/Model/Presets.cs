namespace PluginGpt.Core.Model;

/// <summary>Named model shapes. Vocabulary sizes of presets meant for a trained BPE are the BPE's size.</summary>
public static class Presets
{
    /// <summary>2 layers, d=32: unit tests (same shape as the golden fixture).</summary>
    public static readonly GptConfig Tiny = new() { Layers = 2, Heads = 2, ModelDim = 32, Context = 64, Vocab = 512 };

    /// <summary>The default for <c>pretrain</c> on 2 CPU cores: legible text within minutes.</summary>
    public static readonly GptConfig Small = new()
    {
        Layers = 4,
        Heads = 4,
        ModelDim = 192,
        Context = 128,
        Vocab = 4096,
        EmbeddingDropout = 0.0,
        AttentionDropout = 0.0,
        ResidualDropout = 0.0,
    };

    /// <summary>GPT-1 (Radford et al. 2018): 12 post-LN layers, d=768, 512 positions, 40,478 BPE tokens.</summary>
    public static readonly GptConfig Gpt1 = new()
    {
        Layers = 12,
        Heads = 12,
        ModelDim = 768,
        Context = 512,
        Vocab = 40478,
        Norm = NormPlacement.Post,
        EmbeddingDropout = 0.1,
        AttentionDropout = 0.1,
        ResidualDropout = 0.1,
    };

    /// <summary>GPT-2 small: 124,439,808 parameters with the tied LM head.</summary>
    public static readonly GptConfig Gpt2Small = new()
    {
        Layers = 12,
        Heads = 12,
        ModelDim = 768,
        Context = 1024,
        Vocab = 50257,
        EmbeddingDropout = 0.1,
        AttentionDropout = 0.1,
        ResidualDropout = 0.1,
    };

    /// <summary>Llama family, 2 layers, d=32, 4 query heads sharing 2 key-value heads, untied head: unit tests.</summary>
    public static readonly GptConfig LlamaTiny = new()
    {
        ModelType = "llama",
        Layers = 2,
        Heads = 4,
        KeyValueHeadCount = 2,
        ModelDim = 32,
        FeedForwardDim = 64,
        Context = 64,
        Vocab = 512,
        Activation = "silu",
        TiedHead = false,
    };

    /// <summary>The Llama-family counterpart of <see cref="Small"/> for 2 CPU cores: 4 layers, d=192, 6 query heads over 2 key-value
    /// heads, SwiGLU width 512 (≈ 8/3·d, Llama's ratio), tied embeddings as small Llama-style models (SmolLM2) have.</summary>
    public static readonly GptConfig LlamaSmall = new()
    {
        ModelType = "llama",
        Layers = 4,
        Heads = 6,
        KeyValueHeadCount = 2,
        ModelDim = 192,
        FeedForwardDim = 512,
        Context = 128,
        Vocab = 4096,
        Activation = "silu",
        TiedHead = true,
    };

    public static readonly IReadOnlyDictionary<string, GptConfig> All = new Dictionary<string, GptConfig>(StringComparer.OrdinalIgnoreCase)
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["gpt1"] = Gpt1,
        ["gpt2-small"] = Gpt2Small,
        ["llama-tiny"] = LlamaTiny,
        ["llama-small"] = LlamaSmall,
    };

    public static GptConfig Get(string name) => All.TryGetValue(name, out var c) ? c
        : throw new OptionsException($"unknown preset '{name}'; known presets: {string.Join(", ", All.Keys)}");
}
