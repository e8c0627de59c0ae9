using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>Multi-head causal self-attention with fused q/k/v projection (GPT-2's <c>attn</c>).</summary>
public sealed class CausalSelfAttention : AttentionSubLayer
{
#pragma warning disable IDE1006 // GPT-2 state-dict names
    internal Module<Tensor, Tensor> c_attn;
    internal Module<Tensor, Tensor> c_proj;
    readonly FastDropoutLayer resid_dropout;
#pragma warning restore IDE1006
    readonly int layer, heads, headDim;
    readonly double attnDropout;

    public CausalSelfAttention(GptConfig config, int layer, Device? device = null) : base(nameof(CausalSelfAttention))
    {
        this.layer = layer;
        heads = config.Heads; headDim = config.HeadDim; attnDropout = config.AttentionDropout;
        c_attn = Linear(config.ModelDim, 3 * config.ModelDim, device: device);
        c_proj = Linear(config.ModelDim, config.ModelDim, device: device);
        resid_dropout = new FastDropoutLayer(config.ResidualDropout);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var context = CurrentContext;
        long batch = x.shape[0], steps = x.shape[1], dim = x.shape[2];
        var projected = Project(c_attn, x);
        var prefix = context.Prefix?.GetPrefix(layer, batch);
        if (prefix is null && OneQueryAttention.Applies(projected, context, training && attnDropout > 0, heads, headDim))
            return resid_dropout.call(Project(c_proj, OneQueryAttention.Attend(projected, context.Cache!, layer, heads, headDim)));
        var qkv = projected.split(dim, 2);
        // [B, T, C] → [B, H, T, D]
        Tensor Heads(Tensor t) => t.view(batch, steps, heads, headDim).transpose(1, 2);
        Tensor q = Heads(qkv[0]), k = Heads(qkv[1]), v = Heads(qkv[2]);

        long past = context.Past;   // read once per forward: the cache grows layer by layer
        if (context.Cache is not null) (k, v) = context.Cache.Append(layer, k, v);

        (k, v, long prefixLength) = ScaledAttention.WithPrefix(prefix, k, v);
        var y = ScaledAttention.Attend(q, k, v, steps, past, prefixLength, context.KeyPaddingMask, attnDropout, training);

        y = y.transpose(1, 2).contiguous().view(batch, steps, dim);
        return resid_dropout.call(Project(c_proj, y));
    }
}
