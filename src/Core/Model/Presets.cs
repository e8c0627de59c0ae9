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

    public static readonly IReadOnlyDictionary<string, GptConfig> All = new Dictionary<string, GptConfig>(StringComparer.OrdinalIgnoreCase)
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["gpt1"] = Gpt1,
        ["gpt2-small"] = Gpt2Small,
    };

    public static GptConfig Get(string name) => All.TryGetValue(name, out var c) ? c
        : throw new OptionsException($"unknown preset '{name}'; known presets: {string.Join(", ", All.Keys)}");
}
