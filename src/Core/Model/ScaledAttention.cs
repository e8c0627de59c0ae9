using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>What both attention layers (GPT and Llama) share after their projections: prefix keys/values put in front, and one
/// scaled-dot-product attention call with the causal flag where it can express the mask.</summary>
public static class ScaledAttention
{
    /// <summary>Puts the layer's prefix keys/values (prefix tuning) in front of <paramref name="k"/> and <paramref name="v"/>
    /// ([B, heads, T, D]); prefixes take no position, as past key/values in Hugging Face's cache are not rotated again.</summary>
    internal static (Tensor K, Tensor V, long PrefixLength) WithPrefix(AttentionContext context, int layer, long batch, Tensor k, Tensor v)
    {
        if (context.Prefix?.GetPrefix(layer, batch) is not var (pk, pv)) return (k, v, 0);
        // Prefixes are fp32 parameters; keys may be bf16 under autocast.
        return (torch.cat([pk.to(k.dtype), k], 2), torch.cat([pv.to(v.dtype), v], 2), pk.shape[2]);
    }

    /// <summary>softmax(q·kᵀ/√d)·v over [B, H, T, D] heads, causal, with <paramref name="past"/> cached and
    /// <paramref name="prefixLength"/> prefix keys before the <paramref name="steps"/> new ones; <paramref name="keyPaddingMask"/>
    /// [B, past + T] switches keys off.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long steps, long past, long prefixLength, Tensor? keyPaddingMask,
        double dropout, bool training)
    {
        // LibTorch 2.10's CPU attention backward in bf16 measured 4× slower than in fp32 (small, 16 × 128: 39.5 against 9.9 ms for
        // 4 layers), its forward only 1.3× faster: a bf16 region trains CPU attention in fp32, as its softmax would be anyway.
        if (training && q.dtype == ScalarType.BFloat16 && q.device.type == DeviceType.CPU)
            (q, k, v) = (q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        double p = training ? dropout : 0.0;
        return prefixLength == 0 && past == 0 && keyPaddingMask is null
            ? functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true)
            : functional.scaled_dot_product_attention(q, k, v,
                AttentionMask.Build(steps, past, prefixLength, keyPaddingMask, q.device), p);
    }
}
