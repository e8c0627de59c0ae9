using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>One transformer block; GPT-1 normalises after each residual add, GPT-2 before each sub-layer.</summary>
public sealed class Block : DecoderBlock
{
#pragma warning disable IDE1006 // GPT-2 state-dict names
    internal readonly LayerNorm ln_1;
    internal Module<Tensor, Tensor> attn;
    internal readonly LayerNorm ln_2;
    internal Module<Tensor, Tensor> mlp;
#pragma warning restore IDE1006
    readonly int layer;
    readonly NormPlacement norm;

    public Block(GptConfig config, int layer, Device? device = null) : this(config, layer,
        new CausalSelfAttention(config, layer, device), new Mlp(config, device), device)
    {
    }

    Block(GptConfig config, int layer, CausalSelfAttention attention, Mlp feedForward, Device? device)
        : base(nameof(Block), attention, feedForward)
    {
        this.layer = layer;
        norm = config.Norm;
        ln_1 = LayerNorm(config.ModelDim, config.LayerNormEpsilon, device: device);
        attn = attention;
        ln_2 = LayerNorm(config.ModelDim, config.LayerNormEpsilon, device: device);
        mlp = feedForward;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, AttentionContext context)
    {
        if (norm == NormPlacement.Pre) return PreNormForward(x, context, ln_1, attn, ln_2, mlp, layer);
        var a = Freeing(() => Attend(attn, x, context));
#pragma warning disable CS0618 // the obsolete hook point 4 keeps working
        if (context.BlockHook is { } hook) a = hook.AfterAttention(layer, a);
        x = ln_1.call(KeptScalars.Add(x, a));
        var m = Freeing(() => mlp.call(x));
        if (context.BlockHook is { } after) m = after.AfterMlp(layer, m);
#pragma warning restore CS0618
        return ln_2.call(KeptScalars.Add(x, m));
    }
}
