using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model.Llama;

/// <summary>
/// Causal self-attention with rotary positions and grouped-query attention (Ainslie et al. 2023): n_head query heads share
/// num_key_value_heads heads of keys and values. The KV cache and prefix tuning hold the key/value heads (the small tensors);
/// they are repeated to every query head only for the product, as Hugging Face's <c>repeat_kv</c> does.
/// </summary>
public sealed class LlamaAttention : AttentionSubLayer
{
#pragma warning disable IDE1006 // Hugging Face state-dict names
    internal Module<Tensor, Tensor> q_proj;
    internal Module<Tensor, Tensor> k_proj;
    internal Module<Tensor, Tensor> v_proj;
    internal Module<Tensor, Tensor> o_proj;
#pragma warning restore IDE1006
    readonly int layer, heads, keyValueHeads, headDim;
    readonly double attnDropout;

    public LlamaAttention(GptConfig config, int layer, Device? device = null) : base(nameof(LlamaAttention))
    {
        this.layer = layer;
        heads = config.Heads; keyValueHeads = config.KeyValueHeads; headDim = config.HeadDim;
        attnDropout = config.AttentionDropout;
        q_proj = Linear(config.ModelDim, heads * headDim, hasBias: config.AttentionBias, device: device);
        k_proj = Linear(config.ModelDim, keyValueHeads * headDim, hasBias: config.AttentionBias, device: device);
        v_proj = Linear(config.ModelDim, keyValueHeads * headDim, hasBias: config.AttentionBias, device: device);
        // Llama's attention_bias covers o_proj too; Qwen2's biases are on q, k and v only.
        o_proj = Linear(heads * headDim, config.ModelDim, hasBias: config.AttentionBias && config.ModelType == "llama", device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var context = CurrentContext;
        long batch = x.shape[0], steps = x.shape[1];
        // [B, T, H·D] → [B, H, T, D]
        Tensor Heads(Tensor t, int count) => t.view(batch, steps, count, headDim).transpose(1, 2);
        var (cos, sin) = context.Rotary!.Value;
        var q = RotaryEmbedding.Apply(Heads(Project(q_proj, x), heads), cos, sin);
        var k = RotaryEmbedding.Apply(Heads(Project(k_proj, x), keyValueHeads), cos, sin);
        var v = Heads(Project(v_proj, x), keyValueHeads);

        long past = context.Past;   // read once per forward: the cache grows layer by layer
        if (context.Cache is not null) (k, v) = context.Cache.Append(layer, k, v);

        (k, v, long prefixLength) = ScaledAttention.WithPrefix(context.Prefix?.GetPrefix(layer, batch), k, v);
        if (keyValueHeads != heads && steps == 1 && context.KeyPaddingMask is null && !training)
        {
            // One position sees every key (cached, prefix, its own): the query heads that share a key/value head attend as the rows
            // of one group, [B, kv heads, group, D] against [B, kv heads, keys, D], where repeating the keys and values to every
            // query head copied the whole cache each layer and step. Query head h = g · group + i reads key/value head g either way.
            var grouped = functional.scaled_dot_product_attention(q.reshape(batch, keyValueHeads, heads / keyValueHeads, headDim), k, v);
            return Project(o_proj, grouped.reshape(batch, 1, heads * headDim));
        }
        if (keyValueHeads != heads)
        {
            k = k.repeat_interleave(heads / keyValueHeads, 1);
            v = v.repeat_interleave(heads / keyValueHeads, 1);
        }

        var y = ScaledAttention.Attend(q, k, v, steps, past, prefixLength, context.KeyPaddingMask, attnDropout, training);
        y = y.transpose(1, 2).contiguous().view(batch, steps, heads * headDim);
        return Project(o_proj, y);
    }
}
