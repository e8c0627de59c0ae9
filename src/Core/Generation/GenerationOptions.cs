namespace PluginGpt.Core.Generation;

/// <summary>How <see cref="TokenGenerator"/> picks tokens. Greedy ignores temperature, top-k and top-p.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public bool Greedy { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of tokens whose probability reaches p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>CTRL's penalty (HF semantics): seen tokens' positive logits are divided by it, negative ones multiplied.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public ulong Seed { get; init; } = 1234;
    public bool UseKvCache { get; init; } = true;
    /// <summary>Ids at or above this are never produced (0: no limit): a model whose embedding has more rows than its tokenizer
    /// has ids (padded, or grown) could otherwise emit a token nothing can decode.</summary>
    public int VocabularyLimit { get; init; }
    /// <summary>Token ids that end generation (not emitted), e.g. end-of-text.</summary>
    public IReadOnlyList<int> StopTokens { get; init; } = [];
    /// <summary>Who generates, tagged on the <c>plugingpt.generate.*</c> measurements (with <c>kv_cache</c>) so a benchmark's
    /// generations are not mistaken for a user's: <c>generate</c> (default) or <c>bench</c>.</summary>
    public string Source { get; init; } = "generate";

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new OptionsException($"max-new-tokens must be ≥ 0, got {MaxNewTokens}");
        if (!Greedy && Temperature <= 0) throw new OptionsException($"temperature must be > 0, got {Temperature}");
        if (TopK < 0) throw new OptionsException($"top-k must be ≥ 0, got {TopK}");
        if (TopP is <= 0 or > 1) throw new OptionsException($"top-p must be in (0, 1], got {TopP}");
        if (RepetitionPenalty <= 0) throw new OptionsException($"repetition-penalty must be > 0, got {RepetitionPenalty}");
    }
}
