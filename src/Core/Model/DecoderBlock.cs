using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>One transformer block of any family: an attention and a feed-forward sub-layer whose Linears hook point 1 can
/// replace, and a forward pass that calls hook point 4 after each sub-layer.</summary>
public abstract class DecoderBlock : Module
{
    protected DecoderBlock(string name) : base(name) { }

    public abstract ReplaceableChildren Attention { get; }
    public abstract ReplaceableChildren FeedForward { get; }

    internal abstract Tensor Forward(Tensor x, AttentionContext context, IBlockOutputHook? hook);

    /// <summary>The pre-norm residual pattern GPT-2 and Llama share: x + attention(norm₁(x)), then + mlp(norm₂(x)), hook point 4
    /// seeing each sub-layer's output before it is added.</summary>
    protected static Tensor PreNormForward(Tensor x, int layer, IBlockOutputHook? hook, Module<Tensor, Tensor> attentionNorm,
        Func<Tensor, Tensor> attention, Module<Tensor, Tensor> mlpNorm, Func<Tensor, Tensor> mlp)
    {
        var a = attention(attentionNorm.call(x));
        if (hook is not null) a = hook.AfterAttention(layer, a);
        x = x + a;
        var m = mlp(mlpNorm.call(x));
        if (hook is not null) m = hook.AfterMlp(layer, m);
        return x + m;
    }
}
