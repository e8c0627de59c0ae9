using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>One transformer block; GPT-1 normalises after each residual add, GPT-2 before each sub-layer.</summary>
public sealed class Block : DecoderBlock
{
#pragma warning disable IDE1006 // GPT-2 state-dict names
    internal readonly LayerNorm ln_1;
    internal readonly CausalSelfAttention attn;
    internal readonly LayerNorm ln_2;
    internal readonly Mlp mlp;
#pragma warning restore IDE1006
    readonly int layer;
    readonly NormPlacement norm;

    public Block(GptConfig config, int layer, Device? device = null) : base(nameof(Block))
    {
        this.layer = layer;
        norm = config.Norm;
        ln_1 = LayerNorm(config.ModelDim, config.LayerNormEpsilon, device: device);
        attn = new CausalSelfAttention(config, layer, device);
        ln_2 = LayerNorm(config.ModelDim, config.LayerNormEpsilon, device: device);
        mlp = new Mlp(config, device);
        RegisterComponents();
    }

    public override ReplaceableChildren Attention => attn;
    public override ReplaceableChildren FeedForward => mlp;

    internal override Tensor Forward(Tensor x, AttentionContext context, IBlockOutputHook? hook)
    {
        if (norm == NormPlacement.Pre) return PreNormForward(x, layer, hook, ln_1, h => attn.Forward(h, context), ln_2, mlp.Forward);
        var a = attn.Forward(x, context);
        if (hook is not null) a = hook.AfterAttention(layer, a);
        x = ln_1.call(x + a);
        var m = mlp.Forward(x);
        if (hook is not null) m = hook.AfterMlp(layer, m);
        return ln_2.call(x + m);
    }
}
