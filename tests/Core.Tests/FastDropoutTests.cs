using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>
/// FastDropout draws its mask from a hash of (seed, position): it must drop at rate p without pattern, scale what it keeps as
/// PyTorch does, give the same mask for the same generator state (and the same decisions in every type), and pass gradients
/// through the mask.
/// </summary>
public class FastDropoutTests
{
    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void Drops_at_rate_p_keeps_the_rest_scaled_by_1_over_1_minus_p_and_neighbours_are_independent(double p)
    {
        const int n = 1 << 21;   // two hash blocks
        using var mask = torch.empty(n);
        FastDropout.Fill(mask, p, seed: 12345);
        var values = mask.data<float>().ToArray();
        float scale = (float)(1 / (1 - p));
        Assert.All(values, v => Assert.True(v == 0 || v == scale, $"value {v}"));
        double kept = values.Count(v => v != 0) / (double)n;
        double sd = Math.Sqrt(p * (1 - p) / n);
        Assert.True(Math.Abs(kept - (1 - p)) < 5 * sd, $"kept {kept}, expected {1 - p} ± {5 * sd}");
        // Neighbours (and values a lane-width apart) are kept together as often as independent draws would be.
        foreach (int lag in new[] { 1, 8, 16 })
        {
            double both = Enumerable.Range(0, n - lag).Count(i => values[i] != 0 && values[i + lag] != 0) / (double)(n - lag);
            Assert.True(Math.Abs(both - (1 - p) * (1 - p)) < 6 * Math.Sqrt((1 - p) * (1 - p) * (1 - (1 - p) * (1 - p)) / n),
                $"lag {lag}: both kept {both}, expected {(1 - p) * (1 - p)}");
        }
        // The second block is not a copy of the first.
        double same = Enumerable.Range(0, 4096).Count(i => (values[i] != 0) == (values[(1 << 20) + i] != 0)) / 4096.0;
        Assert.True(Math.Abs(same - ((1 - p) * (1 - p) + p * p)) < 0.05, $"blocks agree at {same} of positions");
    }

    [Fact]
    public void Kept_bf16_values_are_LibTorchs_own_rounded_scale_and_every_type_and_length_makes_the_same_decisions()
    {
        const int n = 100_000;
        using var reference = torch.empty(n + 64);
        FastDropout.Fill(reference, 0.1, seed: 99);
        using var brain = torch.empty(n, dtype: ScalarType.BFloat16);
        FastDropout.Fill(brain, 0.1, seed: 99);
        using var torchKept = nn.functional.dropout(torch.ones(1000, dtype: ScalarType.BFloat16), 0.1, training: true).max();
        using var brainKept = brain.max();
        Assert.Equal(torchKept.to(ScalarType.Float32).item<float>(), brainKept.to(ScalarType.Float32).item<float>());
        // Lengths past every vector width: each scalar tail must decide as the vector body does at the same positions.
        foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            for (int extra = 0; extra < 32; extra++)
            {
                using var mask = torch.empty(n + extra, dtype: type);
                FastDropout.Fill(mask, 0.1, seed: 99);
                using var kept = mask.ne(0);
                using var expected = reference.narrow(0, 0, n + extra).ne(0);
                Assert.True(kept.eq(expected).all().item<bool>(), $"{type}, length {n + extra}: decisions differ from fp32's");
            }
    }

    [Fact]
    public void The_generators_seed_reproduces_the_mask_and_the_next_call_draws_another()
    {
        using var x = torch.ones(64, 64);
        torch.manual_seed(7);
        using var first = FastDropout.Apply(x, 0.3, training: true);
        using var second = FastDropout.Apply(x, 0.3, training: true);
        torch.manual_seed(7);
        using var again = FastDropout.Apply(x, 0.3, training: true);
        Assert.True(first.eq(again).all().item<bool>());
        Assert.False(first.eq(second).all().item<bool>());
    }

    [Fact]
    public void Apply_drops_with_the_mask_Fill_makes_for_the_generators_next_draw()
    {
        torch.manual_seed(11);
        ulong seed;
        using (var draw = torch.randint(0, long.MaxValue, [1], dtype: ScalarType.Int64)) seed = (ulong)draw.item<long>();
        torch.manual_seed(11);
        using var x = torch.ones(300, 301);
        using var dropped = FastDropout.Apply(x, 0.2, training: true);
        using var mask = torch.empty(300, 301);
        FastDropout.Fill(mask, 0.2, seed);
        Assert.True(dropped.eq(mask).all().item<bool>());
    }

    [Fact]
    public void The_decoder_drops_with_FastDropout_only()
    {
        var config = Model.Presets.Tiny with { EmbeddingDropout = 0.1, AttentionDropout = 0.1, ResidualDropout = 0.1 };
        using var model = new Model.Decoder(config);
        // The embeddings', and each of the 2 blocks' attention output and MLP output.
        Assert.Equal(5, model.modules().OfType<FastDropoutLayer>().Count());
        Assert.Empty(model.modules().OfType<TorchSharp.Modules.Dropout>());
    }

    [Fact]
    public void The_gradient_passes_through_the_same_mask_and_evaluation_returns_the_input()
    {
        using var x = torch.full([32, 48], 2.0f).requires_grad_(true);
        using var weights = torch.linspace(-1, 1, 32 * 48).reshape(32, 48);
        using var y = FastDropout.Apply(x, 0.25, training: true);
        using var loss = (y * weights).sum();
        loss.backward();
        // y = 2·mask, so ∂loss/∂x = weights·mask = weights·y/2.
        using var expected = weights * y.detach() / 2;
        Assert.True(x.grad!.allclose(expected, rtol: 0, atol: 0));
        Assert.Same(x, FastDropout.Apply(x, 0.25, training: false));
        using var layer = new FastDropoutLayer(0.25);
        layer.eval();
        Assert.Same(x, layer.call(x));
    }
}
