namespace PluginGpt.Abstractions;

/// <summary>The two sub-layers of every decoder block, each added to the residual stream: what <see cref="IDecoder.SubLayerPath"/>
/// names and what bottleneck adapters wrap. Since SDK 2.9.</summary>
public enum SubLayer
{
    /// <summary>Self-attention (GPT-2 <c>h.i.attn</c>, Llama <c>layers.i.self_attn</c>): its output [B, T, C], dropout
    /// included.</summary>
    Attention,
    /// <summary>The feed-forward network (GPT-2 <c>h.i.mlp</c>, Llama <c>layers.i.mlp</c>): its output [B, T, C], dropout
    /// included.</summary>
    FeedForward,
}
