using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>bf16 casts per step (op counts): each weight cast once per step, a frozen body once per run, every weight once per
/// generation — and the same loss and gradients as casting at every use.</summary>
public class CastCacheTests
{
    // Through Autocast: per block c_attn, attn.c_proj, c_fc, mlp.c_proj (weight and bias each), and the tied LM head.
    static int Weights(GptConfig c) => 8 * c.Layers + 1;

    static (Decoder Model, Tensor X) Tiny()
    {
        manual_seed(7);
        var model = new Decoder(Presets.Tiny with { EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 });
        return (model, randint(0, Presets.Tiny.Vocab, [2, 16]));
    }

    /// <summary>A step's loss over 8 chunks of 4 rows: the LM head is used 8 times (by the fused loss, inside one autograd
    /// step).</summary>
    static Tensor ChunkedLoss(Decoder model, Tensor x)
    {
        var (sum, count) = model.LanguageModelLossSum(model.Forward(x), x, rowsPerChunk: 4);
        return sum / count;
    }

    [Fact]
    public void A_step_casts_each_weight_once_and_gives_the_same_loss_and_gradients()
    {
        var (model, x) = Tiny();
        using var _ = model;
        using var region = Autocast.Use(ScalarType.BFloat16);
        long start = Autocast.WeightCasts;
        var plainLoss = ChunkedLoss(model, x);
        plainLoss.backward();
        long plainCasts = Autocast.WeightCasts - start;
        var plainGrads = model.parameters().Select(p => p.grad!.clone()).ToList();
        model.zero_grad();

        start = Autocast.WeightCasts;
        Tensor cachedLoss;
        using (Autocast.CacheCasts())
        {
            cachedLoss = ChunkedLoss(model, x);
            cachedLoss.backward();
            Assert.Equal(Weights(model.Config), Autocast.CachedCasts);
        }
        Assert.Equal(0, Autocast.CachedCasts);   // closed: nothing kept
        Assert.Equal(Weights(model.Config), Autocast.WeightCasts - start);
        // Uncached, each weight once too: the fused loss casts the head once for all 8 chunks (unfused: once per chunk).
        Assert.Equal(Weights(model.Config), plainCasts);
        Assert.Equal(plainLoss.item<float>(), cachedLoss.item<float>());   // the same bf16 weights: the same loss, exactly
        foreach (var (plain, cached) in plainGrads.Zip(model.parameters().Select(p => p.grad!)))
        {
            // The head's chunk gradients are summed in bf16 once cached (as PyTorch's autocast does), in fp32 uncached.
            double scale = plain.abs().max().item<float>() + 1e-12;
            Assert.True((plain - cached).abs().max().item<float>() / scale < 0.02);
        }
    }

    [Fact]
    public void A_frozen_body_is_cast_once_per_run_and_freed_when_the_run_ends()
    {
        var (model, x) = Tiny();
        using var _ = model;
        foreach (var (name, p) in model.named_parameters()) p.requires_grad = name.Contains("ln_");   // only LayerNorms train
        using var region = Autocast.Use(ScalarType.BFloat16);
        var casts = new List<long>();
        using (Autocast.CacheFrozenCasts())
        {
            for (int step = 0; step < 3; step++)
            {
                using var scope = NewDisposeScope();
                long start = Autocast.WeightCasts;
                using (Autocast.CacheCasts()) ChunkedLoss(model, x).backward();
                casts.Add(Autocast.WeightCasts - start);
            }
            Assert.Equal(Weights(model.Config), Autocast.CachedCasts);   // kept for the run, outside the steps' scopes
        }
        Assert.Equal([Weights(model.Config), 0, 0], casts);
        Assert.Equal(0, Autocast.CachedCasts);
    }

    [Fact]
    public void Generation_casts_each_weight_once_not_once_per_token()
    {
        var (model, _) = Tiny();
        using var __ = model;
        using var region = Autocast.Use(ScalarType.BFloat16);
        long start = Autocast.WeightCasts;
        var tokens = TokenGenerator.Generate(model, [1, 2, 3], new GenerationOptions { MaxNewTokens = 10, Greedy = true }).ToList();
        Assert.Equal(10, tokens.Count);
        Assert.Equal(Weights(model.Config), Autocast.WeightCasts - start);
        Assert.Equal(0, Autocast.CachedCasts);
    }
}
