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
}
