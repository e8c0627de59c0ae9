using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>The causal softmax kernel (<see cref="CausalSoftmax"/>) against LibTorch's masked softmax in fp32 and its gradient:
/// rows of every visible length (whole vectors, a partial last vector inside the row, one at the row's end), keys before the
/// queries (a prefix or a query block) and bf16 attention taking it. Checks nothing on a CPU without accelerated 512-bit vectors,
/// where LibTorch's passes serve.</summary>
public class CausalSoftmaxTests
{
    /// <summary>One bf16 rounding of a value of size ≤ 1 (2⁻⁸ relative), and of a gradient built from two rounded inputs.</summary>
    const double WeightTolerance = 4e-3, GradientTolerance = 2e-2;

    [Theory]
    [InlineData(5, 5, 0)]       // scalar rows: fewer keys than a vector
    [InlineData(40, 40, 0)]     // a partial last vector inside the row, and one at its end (keys not a multiple of 16)
    [InlineData(20, 52, 32)]    // 32 keys before the queries: a prefix, or a later query block
    [InlineData(33, 64, 31)]
    public void Weights_and_score_gradients_match_fp32_masked_softmax(long queries, long keys, long offset)
    {
        if (!CausalSoftmax.Serves(ScalarType.BFloat16, DeviceType.CPU, keys)) return;
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(17);
        // 5 sequences: up to 200 rows, in several blocks whose boundaries fall inside a sequence's queries.
        var scores = (randn([5, queries, keys], generator: generator) * 4).to(ScalarType.BFloat16);
        const double scale = 0.3;
        long calls = CausalSoftmax.Calls;
        var input = scores.detach().requires_grad_(true);
        var weights = CausalSoftmax.Apply(input, scale, offset);

        var reference = scores.to(ScalarType.Float32).requires_grad_(true);
        var hidden = ones([queries, keys], ScalarType.Bool).triu(offset + 1);   // key j hidden from query i when j > offset + i
        var expected = (reference * scale).masked_fill(hidden, double.NegativeInfinity).softmax(-1);
        Assert.Equal(ScalarType.BFloat16, weights.dtype);
        Assert.True(weights.to(ScalarType.Float32).allclose(expected, rtol: WeightTolerance, atol: 1e-6));
        Assert.Equal(0, weights.to(ScalarType.Float32).masked_select(hidden.expand(weights.shape)).abs().sum().item<float>());

        var upstream = randn(weights.shape, generator: generator).to(ScalarType.BFloat16);
        weights.backward([upstream]);
        expected.backward([upstream.to(ScalarType.Float32)]);
        var (ours, fp32) = (input.grad!.to(ScalarType.Float32), reference.grad!);
        Assert.True(ours.allclose(fp32, rtol: GradientTolerance, atol: GradientTolerance * fp32.abs().max().item<float>()));
        Assert.Equal(0, ours.masked_select(hidden.expand(ours.shape)).abs().sum().item<float>());
        Assert.Equal(calls + 2, CausalSoftmax.Calls);   // forward and backward
    }

    [Fact]
    public void Bf16_causal_training_attention_takes_the_kernel_and_masked_attention_does_not()
    {
        if (!CausalSoftmax.Serves(ScalarType.BFloat16, DeviceType.CPU, 6)) return;
        using var scope = NewDisposeScope();
        var (q, k, v) = (randn([2, 3, 6, 8]).to(ScalarType.BFloat16), randn([2, 3, 6, 8]).to(ScalarType.BFloat16),
            randn([2, 3, 6, 8]).to(ScalarType.BFloat16));
        long calls = CausalSoftmax.Calls;
        ScaledAttention.Attend(q, k, v, 6, 0, 0, null, 0.0, training: true);
        Assert.Equal(calls + 1, CausalSoftmax.Calls);
        ScaledAttention.Attend(q, k, v, 6, 0, 0, ones([2, 6], ScalarType.Int64), 0.0, training: true);   // a padding mask
        Assert.Equal(calls + 1, CausalSoftmax.Calls);
    }
}
