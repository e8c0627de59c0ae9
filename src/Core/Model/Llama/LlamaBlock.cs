using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model.Llama;

/// <summary>A Llama decoder layer: pre-norm (RMSNorm) attention and SwiGLU MLP, each added to the residual stream.</summary>
public sealed class LlamaBlock : DecoderBlock
{
#pragma warning disable IDE1006 // Hugging Face state-dict names
    internal readonly RmsNorm input_layernorm;
    internal Module<Tensor, Tensor> self_attn;
    internal readonly RmsNorm post_attention_layernorm;
    internal Module<Tensor, Tensor> mlp;
#pragma warning restore IDE1006
    readonly int layer;

    public LlamaBlock(GptConfig config, int layer, Device? device = null) : this(config, layer,
        new LlamaAttention(config, layer, device), new LlamaMlp(config, device), device)
    {
    }

    LlamaBlock(GptConfig config, int layer, LlamaAttention attention, LlamaMlp feedForward, Device? device)
        : base(nameof(LlamaBlock), attention, feedForward)
    {
        this.layer = layer;
        input_layernorm = new RmsNorm(config.ModelDim, config.LayerNormEpsilon, device);
        self_attn = attention;
        post_attention_layernorm = new RmsNorm(config.ModelDim, config.LayerNormEpsilon, device);
        mlp = feedForward;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, AttentionContext context) =>
        PreNormForward(x, context, input_layernorm, self_attn, post_attention_layernorm, mlp, layer);
}
