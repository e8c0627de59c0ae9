using static TorchSharp.torch;

namespace PluginGpt.Core.Model.Llama;

/// <summary>A Llama decoder layer: pre-norm (RMSNorm) attention and SwiGLU MLP, each added to the residual stream.</summary>
public sealed class LlamaBlock : DecoderBlock
{
#pragma warning disable IDE1006 // Hugging Face state-dict names
    internal readonly RmsNorm input_layernorm;
    internal readonly LlamaAttention self_attn;
    internal readonly RmsNorm post_attention_layernorm;
    internal readonly LlamaMlp mlp;
#pragma warning restore IDE1006
    readonly int layer;

    public LlamaBlock(GptConfig config, int layer, Device? device = null) : base(nameof(LlamaBlock))
    {
        this.layer = layer;
        input_layernorm = new RmsNorm(config.ModelDim, config.LayerNormEpsilon, device);
        self_attn = new LlamaAttention(config, layer, device);
        post_attention_layernorm = new RmsNorm(config.ModelDim, config.LayerNormEpsilon, device);
        mlp = new LlamaMlp(config, device);
        RegisterComponents();
    }

    public override ReplaceableChildren Attention => self_attn;
    public override ReplaceableChildren FeedForward => mlp;

    internal override Tensor Forward(Tensor x, AttentionContext context, IBlockOutputHook? hook) =>
        PreNormForward(x, layer, hook, input_layernorm, h => self_attn.Forward(h, context), post_attention_layernorm, mlp.Forward);
}
