using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>Both decoder families attend through <see cref="ScaledAttention"/>: on CPU, bf16 training attends in fp32 (LibTorch's bf16
/// attention backward is slower than fp32's there), inference keeps bf16.</summary>
public class ScaledAttentionTests
{
    static (Tensor Q, Tensor K, Tensor V) Heads(ScalarType dtype)
    {
        var g = new TorchSharp.torch.Generator(7);
        Tensor Draw() => randn([2, 3, 5, 8], generator: g).to(dtype);
        return (Draw(), Draw(), Draw());
    }

    [Fact]
    public void Bf16_training_on_cpu_attends_in_fp32_with_the_fp32_result()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.BFloat16);
        var trained = ScaledAttention.Attend(q, k, v, 5, 0, 0, null, 0.0, training: true);
        var reference = nn.functional.scaled_dot_product_attention(
            q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), is_casual: true);
        Assert.Equal(ScalarType.Float32, trained.dtype);
        Assert.True(trained.allclose(reference, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Bf16_inference_stays_bf16_and_a_padding_mask_matches_the_causal_flag_when_it_masks_nothing()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.BFloat16);
        var inferred = ScaledAttention.Attend(q, k, v, 5, 0, 0, null, 0.0, training: false);
        Assert.Equal(ScalarType.BFloat16, inferred.dtype);

        var (q32, k32, v32) = Heads(ScalarType.Float32);
        var causal = ScaledAttention.Attend(q32, k32, v32, 5, 0, 0, null, 0.0, training: true);
        var masked = ScaledAttention.Attend(q32, k32, v32, 5, 0, 0, ones([2, 5], ScalarType.Int64), 0.0, training: true);
        Assert.Equal(ScalarType.Float32, causal.dtype);
        Assert.True(causal.allclose(masked, rtol: 0, atol: 1e-6));
    }
}
