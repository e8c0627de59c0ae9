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
    Tensor Apply(Tensor tokenEmbeddings, Tensor inputIds);
}

/// <summary>
/// Hook point 3: extra keys and values [B, Hkv, P, D] (Hkv = the config's key-value heads: n_head unless grouped-query attention)
/// that every query of a layer may attend
/// to (prefix tuning). They take no positions and are never written into the generation KV cache.
/// </summary>
public interface IKeyValuePrefixProvider
{
    (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batchSize);
}

/// <summary>
/// Hook point 4: sees a sub-layer's output [B, T, C] just before it is added to the residual stream and
/// returns its replacement (bottleneck adapters: Houlsby after both sub-layers, Pfeiffer after the MLP).
/// </summary>
public interface IBlockOutputHook
{
    Tensor AfterAttention(int layer, Tensor output);
    Tensor AfterMlp(int layer, Tensor output);
}
