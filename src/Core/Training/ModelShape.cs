namespace PluginGpt.Core.Training;

/// <summary>Changes to a preset's shape for <c>pretrain</c> (e.g. shapes compared before a long run); null keeps the preset's.</summary>
public sealed record ModelShape
{
    public int? Layers { get; init; }
    public int? ModelDim { get; init; }
    public int? Heads { get; init; }
    public int? KeyValueHeads { get; init; }
    public int? FeedForwardDim { get; init; }
    public int? Context { get; init; }
    public int? Vocab { get; init; }

    public GptConfig Apply(GptConfig preset)
    {
        var config = preset with
        {
            Layers = Layers ?? preset.Layers,
            ModelDim = ModelDim ?? preset.ModelDim,
            Heads = Heads ?? preset.Heads,
            KeyValueHeadCount = KeyValueHeads ?? preset.KeyValueHeadCount,
            FeedForwardDim = FeedForwardDim
                ?? (ModelDim is null ? preset.FeedForwardDim : preset.IsLlamaFamily ? LlamaWidth(ModelDim.Value) : null),
            Context = Context ?? preset.Context,
            Vocab = Vocab ?? preset.Vocab,
        };
        try { config.Validate(); }
        catch (OptionsException e) { throw new OptionsException($"model shape ({this}): {e.Message}"); }
        return config;
    }

    /// <summary>Llama's SwiGLU width, 8/3·d rounded up to a multiple of 64.</summary>
    static int LlamaWidth(int dim) => (8 * dim / 3 + 63) / 64 * 64;

    public override string ToString() => string.Join(" ", new (string, int?)[]
    {
        ("layers", Layers), ("dim", ModelDim), ("heads", Heads), ("kv-heads", KeyValueHeads), ("ffn", FeedForwardDim),
        ("context", Context), ("vocab", Vocab),
    }.Where(p => p.Item2 is not null).Select(p => $"{p.Item1}={p.Item2}"));
}
