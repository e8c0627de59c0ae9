namespace PluginGpt.Plugins.Adapters;

/// <summary>Options of <c>adapters</c>, named as AdapterHub's configs (snake_case in JSON).</summary>
public sealed record AdapterOptions
{
    /// <summary><c>pfeiffer</c>: one adapter after each MLP; <c>houlsby</c>: one after attention and one after the MLP.</summary>
    public string Config { get; init; } = "pfeiffer";
    /// <summary>Bottleneck width = n_embd / reduction_factor.</summary>
    public int ReductionFactor { get; init; } = 16;
    /// <summary><c>relu</c> (Pfeiffer's default), <c>swish</c> (Houlsby's) or <c>gelu</c>; null takes the config's default.</summary>
    public string? NonLinearity { get; init; }

    public string Activation => NonLinearity ?? (Config == "houlsby" ? "swish" : "relu");
}
