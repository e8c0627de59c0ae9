using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>The bf16 tanh GELU kernel (<see cref="Bf16Gelu"/>) against LibTorch's fp64 tanh GELU and its gradient on the same bf16
/// inputs: several blocks and a tail, values from 10⁻³ to ±15. Checks nothing on a CPU without accelerated 512-bit vectors, where
/// LibTorch's GELU serves.</summary>
public class Bf16GeluTests
{
    [Fact]
    public void Values_and_gradients_match_LibTorchs_fp64_tanh_gelu_to_a_bf16_rounding()
    {
        var x = (randn([70_001], generator: new TorchSharp.torch.Generator(5)) * 4).to(ScalarType.BFloat16);   // 3 blocks and a tail
        x[0] = tensor(15f); x[1] = tensor(-15f); x[2] = tensor(1e-3f); x[3] = tensor(-1e-3f); x[4] = tensor(0f);
        if (!Bf16Gelu.Serves(x)) return;
        using var scope = NewDisposeScope();
        long calls = Bf16Gelu.Calls;
        var input = x.detach().requires_grad_(true);
        var ours = Bf16Gelu.Apply(input);
        // fp64: LibTorch's fp32 tanh GELU itself loses the tiny values below x ≈ −4 (1 + tanh u cancels).
        var reference = x.to(ScalarType.Float64).requires_grad_(true);
        var expected = nn.functional.gelu(reference, TorchSharp.Modules.GELU.Approximate.tanh);
        Assert.Equal(ScalarType.BFloat16, ours.dtype);
        // One rounding to bf16 (2⁻⁸ relative) on top of an fp32 result good to ~1e-6.
        Assert.True(ours.to(ScalarType.Float64).allclose(expected, rtol: 4e-3, atol: 1e-12));   // also the tiny values below x ≈ −4

        var upstream = randn([70_001], generator: new TorchSharp.torch.Generator(6)).to(ScalarType.BFloat16);
        ours.backward([upstream]);
        expected.backward([upstream.to(ScalarType.Float64)]);
        Assert.True(input.grad!.to(ScalarType.Float64).allclose(reference.grad!, rtol: 8e-3, atol: 1e-9));
        Assert.Equal(calls + 2, Bf16Gelu.Calls);   // forward and backward
    }

    [Fact]
    public void The_mlps_tanh_gelu_takes_the_kernel_for_bf16_and_LibTorchs_for_fp32_and_the_exact_gelu_stays_LibTorchs()
    {
        using var scope = NewDisposeScope();
        var h = randn([3, 40]).to(ScalarType.BFloat16);
        if (!Bf16Gelu.Serves(h)) return;
        long calls = Bf16Gelu.Calls;
        foreach (var activation in new[] { "gelu", "gelu_new" })
        {
            var bf16 = Mlp.Activate(activation, h);
            var fp32 = Mlp.Activate(activation, h.to(ScalarType.Float32));
            Assert.True(bf16.to(ScalarType.Float32).allclose(fp32, rtol: 4e-3, atol: 1e-6));
        }
        Assert.Equal(calls + 1, Bf16Gelu.Calls);   // bf16 gelu_new only, without a graph: forward alone
    }
}
