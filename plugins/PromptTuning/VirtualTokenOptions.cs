namespace PluginGpt.Plugins.PromptTuning;

/// <summary>Options shared by <c>prompt</c>, <c>p-tuning</c> and <c>prefix</c> (PEFT's names, snake_case in JSON).</summary>
public sealed record VirtualTokenOptions
{
    public int NumVirtualTokens { get; init; } = 20;
    /// <summary>Prompt tuning's start: <c>vocab</c> copies embeddings of random vocabulary tokens (Lester et al.), <c>random</c> draws N(0,
    /// 0.02).</summary>
    public string Init { get; init; } = "vocab";
    /// <summary>P-tuning's MLP width; 0 = n_embd (PEFT's default).</summary>
    public int EncoderHiddenSize { get; init; }
    public int Seed { get; init; } = 13;
    /// <summary>Prefix tuning's re-parameterisation (PEFT's <c>prefix_projection</c>): [P, d] → Linear → tanh → Linear → [P,
    /// L·2·d].</summary>
    public bool PrefixProjection { get; init; }
}
