using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>One transformer block of any family, a standard TorchSharp module (x, context) → x: an attention and a feed-forward
/// sub-layer, each in a slot a method may wrap (<see cref="IDecoder.ReplaceModule"/> at <c>h.i.attn</c>, <c>h.i.mlp</c>), whose
/// Linears hook point 1 can replace; the obsolete hook point 4 is still called after each sub-layer.</summary>
public abstract class DecoderBlock : Module<Tensor, AttentionContext, Tensor>
{
    /// <summary>The block's own sub-layers, whatever wraps them (a plain holder: the slots are what the tree registers).</summary>
    readonly (AttentionSubLayer Attention, ReplaceableChildren FeedForward) own;

    protected DecoderBlock(string name, AttentionSubLayer attention, ReplaceableChildren feedForward) : base(name) =>
        own = (attention, feedForward);

    /// <summary>The block's own attention (what its Linear paths reach), even while a method wraps it.</summary>
    public AttentionSubLayer Attention => own.Attention;
    /// <summary>The block's own feed-forward sub-layer, even while a method wraps it.</summary>
    public ReplaceableChildren FeedForward => own.FeedForward;

    /// <summary>The slots' names: the attention's (<c>attn</c>, <c>self_attn</c>), then <c>mlp</c>.</summary>
    public IReadOnlyList<string> SubLayerNames => ChildSlots.Names(this);

    /// <summary>What the attention slot holds, called with <paramref name="context"/> handed to the block's own attention.</summary>
    protected Tensor Attend(Module<Tensor, Tensor> slot, Tensor x, AttentionContext context)
    {
        own.Attention.Context = context;
        try { return slot.call(x); }
        finally { own.Attention.Context = null; }   // the context holds this pass's tensors: no reference outlives it
    }

    /// <summary>The output of a block or a sub-layer (the decoder runs each block through it, each block its sub-layers); without
    /// gradients, its intermediates are freed as it returns. TorchSharp frees a tensor when its wrapper is disposed, not when the
    /// last reference goes as PyTorch does, so without this a pass kept every block's intermediates until the caller's dispose
    /// scope ended: text-to-text scoring of 256 STS-B sequences (~24 K tokens) on a 3 M-parameter model grew the process by
    /// 2.5 GB a pass. A hook that keeps a tensor made inside a block must detach it from the scope (as it must from any caller's
    /// scope).</summary>
    internal static Tensor Freeing(Func<Tensor> part)
    {
        if (torch.is_grad_enabled()) return part();
        using var scope = torch.NewDisposeScope();
        return scope.MoveToOuter(part());   // only if the scope made it: a wrapper that returns its input moves nothing
    }

    /// <summary>The pre-norm residual pattern GPT-2 and Llama share: x + attention(norm₁(x)), then + mlp(norm₂(x)), hook point 4
    /// seeing each sub-layer's output before it is added.</summary>
    protected Tensor PreNormForward(Tensor x, AttentionContext context, Module<Tensor, Tensor> attentionNorm,
        Module<Tensor, Tensor> attention, Module<Tensor, Tensor> mlpNorm, Module<Tensor, Tensor> mlp, int layer)
    {
        var a = Freeing(() => Attend(attention, attentionNorm.call(x), context));
#pragma warning disable CS0618 // the obsolete hook point 4 keeps working
        if (context.BlockHook is { } hook) a = hook.AfterAttention(layer, a);
        x = KeptScalars.Add(x, a);
        var m = Freeing(() => mlp.call(mlpNorm.call(x)));
        if (context.BlockHook is { } after) m = after.AfterMlp(layer, m);
#pragma warning restore CS0618
        return KeptScalars.Add(x, m);
    }
}
