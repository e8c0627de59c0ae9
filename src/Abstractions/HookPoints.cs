namespace PluginGpt.Abstractions;

/// <summary>
/// The places of the decoder a method changes, declared by <see cref="IAdaptationMethod.Uses"/> so that several methods can be
/// attached to one model at once (an experiment's <c>method.with</c>): two methods on the same point are refused before either
/// attaches. Since SDK 2.6.
/// </summary>
[Flags]
public enum HookPoints
{
    /// <summary>Changes nothing of the decoder (the linear probe: only the objective's head learns).</summary>
    None = 0,
    /// <summary>Hook point 1: wraps named Linear layers (LoRA, DoRA, VeRA, LoHa, LoKr, (IA)³).</summary>
    Linears = 1,
    /// <summary>Hook point 2: prepends virtual tokens to the input embeddings (prompt tuning, P-tuning).</summary>
    InputEmbeddings = 2,
    /// <summary>Hook point 3: supplies per-layer key/value prefixes (prefix tuning).</summary>
    KeyValuePrefix = 4,
    /// <summary>Hook point 4: rewrites sub-layer outputs before the residual add (superseded by <see cref="SubLayers"/>).</summary>
    [Obsolete("Declare SubLayers and wrap the sub-layers with IDecoder.ReplaceModule (SDK 2.9).")]
    BlockOutputs = 8,
    /// <summary>Trains the body's own parameters (full fine-tuning, BitFit).</summary>
    BodyWeights = 16,
    /// <summary>Wraps whole sub-layers (<see cref="IDecoder.SubLayerPath"/>: attention, MLP) with modules of its own (bottleneck
    /// adapters). Since SDK 2.9.</summary>
    SubLayers = 32,
}
