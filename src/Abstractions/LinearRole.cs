namespace PluginGpt.Abstractions;

/// <summary>
/// What a Linear of a block computes, whatever the family calls it (AdapterHub's <c>AdapterModelInterface</c> idea): a method
/// that needs "the value projection" asks <see cref="IDecoder.LinearNames"/> instead of knowing that GPT-2 fuses q, k and v
/// into <c>attn.c_attn</c> while Llama has <c>self_attn.v_proj</c>.
/// </summary>
public enum LinearRole
{
    /// <summary>The query projection (part of GPT-2's fused <c>attn.c_attn</c>; Llama's <c>self_attn.q_proj</c>).</summary>
    Query,
    /// <summary>The key projection (<c>attn.c_attn</c>, <c>self_attn.k_proj</c>).</summary>
    Key,
    /// <summary>The value projection (<c>attn.c_attn</c>, <c>self_attn.v_proj</c>).</summary>
    Value,
    /// <summary>The attention's output projection (<c>attn.c_proj</c>, <c>self_attn.o_proj</c>).</summary>
    AttentionOutput,
    /// <summary>The gate of a gated MLP (<c>mlp.gate_proj</c>); GPT-2 has none.</summary>
    MlpGate,
    /// <summary>The MLP's widening projection (<c>mlp.c_fc</c>, <c>mlp.up_proj</c>).</summary>
    MlpUp,
    /// <summary>The MLP's narrowing projection back to the residual stream (<c>mlp.c_proj</c>, <c>mlp.down_proj</c>).</summary>
    MlpDown,
}
