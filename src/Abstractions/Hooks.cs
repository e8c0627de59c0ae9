using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// Hook point 2: sees the token embeddings [B, T, C] of a fresh sequence (no cached past) and may return
/// a longer tensor [B, P + T, C] whose first P rows are virtual tokens (prompt tuning, P-tuning).
/// Position embeddings are added to all P + T rows; the decoder drops the P virtual rows from its output.
/// </summary>
public interface IInputEmbeddingHook
{
    /// <summary>How many positions the hook prepends (P); they come out of the model's context.</summary>
    int VirtualTokens { get; }
    /// <summary>The embeddings the blocks see: <paramref name="tokenEmbeddings"/> [B, T, C] with the P virtual tokens put in
    /// front ([B, P + T, C], on the same device). <paramref name="inputIds"/> [B, T] are the ids they came from, for hooks that
    /// depend on them.</summary>
    Tensor Apply(Tensor tokenEmbeddings, Tensor inputIds);
}

/// <summary>
/// Hook point 3: extra keys and values [B, Hkv, P, D] (Hkv = the config's key-value heads: n_head unless grouped-query attention)
/// that every query of a layer may attend
/// to (prefix tuning). They take no positions and are never written into the generation KV cache.
/// </summary>
public interface IKeyValuePrefixProvider
{
    /// <summary>The prefix of block <paramref name="layer"/> for a batch of <paramref name="batchSize"/> sequences, keys and values
    /// each [B, Hkv, P, D] on the model's device (fp32 parameters are fine: the decoder casts them to its keys' type); null leaves
    /// that layer without one.</summary>
    (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batchSize);
}

/// <summary>
/// Hook point 4: sees a sub-layer's output [B, T, C] just before it is added to the residual stream and
/// returns its replacement. Superseded in SDK 2.9 by wrapping the sub-layer (<see cref="IDecoder.ReplaceModule"/>,
/// <see cref="ModuleWrapper"/>), which the shipped bottleneck adapters now do; the decoder still calls it.
/// </summary>
[Obsolete("Wrap the sub-layer instead: IDecoder.ReplaceModule(IDecoder.SubLayerPath(layer, which), …) with a ModuleWrapper (SDK 2.9).")]
public interface IBlockOutputHook
{
    /// <summary>What block <paramref name="layer"/> adds to the residual stream instead of its attention's
    /// <paramref name="output"/> [B, T, C]; return <paramref name="output"/> itself to leave it.</summary>
    Tensor AfterAttention(int layer, Tensor output);
    /// <summary>What block <paramref name="layer"/> adds to the residual stream instead of its MLP's <paramref name="output"/>
    /// [B, T, C]; return <paramref name="output"/> itself to leave it.</summary>
    Tensor AfterMlp(int layer, Tensor output);
}
