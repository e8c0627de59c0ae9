using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>The LM head fused with the cross-entropy (what training uses) gives the loss and gradients of the head's logits
/// followed by PyTorch's cross-entropy, tied or untied, with a frozen head or body, in fp32 and in bf16.</summary>
public class FusedLossTests
{
    /// <summary>Loss and every parameter's gradient, the fused way (grad on: LanguageModelLossSum) or through full logits.</summary>
    static (float Loss, List<Tensor?> Grads) LossAndGrads(Decoder model, Tensor ids, Tensor targets, bool fused, long? chunk = null)
    {
        model.zero_grad();
        var hidden = model.Forward(ids);
        Tensor sum;
        if (fused) sum = model.LanguageModelLossSum(hidden, targets, chunk).Sum;
        else
        {
            var logits = Autocast.Float(model.LmHead(hidden));
            sum = nn.functional.cross_entropy(logits.view(-1, logits.shape[2]), targets.view(-1), ignore_index: -1,
                reduction: nn.Reduction.Sum);
        }
        sum.backward();
        return ((float)sum.to(ScalarType.Float64).item<double>(), [.. model.parameters().Select(p => p.grad?.clone())]);
    }

    static Tensor Targets(GptConfig config)
    {
        var targets = torch.randint(0, config.Vocab, [3, 10]);
        targets[1, 4] = torch.tensor(-1L);   // ignored: counts in neither loss nor gradient
        targets[2, 0] = torch.tensor(-1L);
        return targets;
    }

    [Theory]
    [InlineData("gpt2", false)]
    [InlineData("llama", false)]
    [InlineData("gpt2", true)]
    [InlineData("llama", true)]
    public void Fused_equals_logits_then_cross_entropy(string family, bool frozenHead)
    {
        torch.manual_seed(9);
        var config = family == "gpt2" ? Presets.Tiny : Presets.LlamaTiny;   // tied head, untied head
        using var model = new Decoder(config);
        if (frozenHead) model.LmHeadWeight.requires_grad_(false);   // GPT-2: the tied embedding too, as LoRA leaves it
        var ids = torch.randint(0, config.Vocab, [3, 10]);
        var targets = Targets(config);
        var (reference, expected) = LossAndGrads(model, ids, targets, fused: false);
        long before = model.LmHeadRows;
        var (fused, grads) = LossAndGrads(model, ids, targets, fused: true, chunk: 7);   // 30 rows: 7+7+7+7+2
        Assert.Equal(before, model.LmHeadRows);   // no logits through the plain head
        Assert.Equal(reference, fused, 4);
        // Against float64's gradients, the fused fp32 path errs no more than twice as much as the unfused fp32 path does (both
        // round differently: measured 2–5e-6 each, so comparing the two fp32 paths to 1e-6 fails on rounding alone).
        model.to(ScalarType.Float64);
        var (_, truth) = LossAndGrads(model, ids, targets, fused: false);
        model.to(ScalarType.Float32);
        double Error(Tensor? g, Tensor? t) => g is null ? 0 : (g.to(ScalarType.Float64) - t!).abs().max().item<double>();
        double rounding = expected.Zip(truth).Max(x => Error(x.First, x.Second));
        Assert.InRange(rounding, 1e-9, 1e-4);
        foreach (var ((g, e), t) in grads.Zip(expected).Zip(truth))
        {
            Assert.Equal(e is null, g is null);
            double error = Error(g, t);
            Assert.True(error <= 2 * rounding, $"fused error {error}, unfused {rounding}");
        }
        Assert.Equal(frozenHead, model.LmHeadWeight.grad is null);
    }

    [Fact]
    public void Fused_in_bf16_stays_within_bf16_rounding_of_the_unfused_path()
    {
        torch.manual_seed(10);
        using var model = new Decoder(Presets.LlamaTiny);
        var ids = torch.randint(0, Presets.LlamaTiny.Vocab, [3, 10]);
        var targets = Targets(Presets.LlamaTiny);
        using var region = Autocast.Use(ScalarType.BFloat16);
        var (reference, expected) = LossAndGrads(model, ids, targets, fused: false);
        var (fused, grads) = LossAndGrads(model, ids, targets, fused: true);
        Assert.True(Math.Abs(fused - reference) <= 1e-3 * Math.Abs(reference), $"{fused} against {reference}");
        foreach (var (g, e) in grads.Zip(expected))
        {
            double scale = e!.abs().max().item<float>();
            Assert.True((g! - e).abs().max().item<float>() <= 0.03 * scale + 1e-6);
        }
    }

    [Theory]
    [InlineData(512, 8192)]      // 16 MB of fp32 logits
    [InlineData(4096, 1024)]     // the small preset's vocabulary
    [InlineData(8192, 512)]      // pg-base's: exactly both rules
    [InlineData(50257, 512)]     // GPT-2's: 16 MB would be 83 rows
    public void A_chunk_holds_16_MB_of_logits_but_at_least_512_rows(int vocab, long rows) =>
        Assert.Equal(rows, LanguageModelLoss.RowsPerChunk(vocab));

    [Fact]
    public void Without_gradients_the_loss_goes_through_the_plain_head()
    {
        torch.manual_seed(11);
        using var model = new Decoder(Presets.Tiny);
        var ids = torch.randint(0, Presets.Tiny.Vocab, [2, 6]);
        using var _ = torch.no_grad();
        long before = model.LmHeadRows;
        model.LanguageModelLoss(ids, ids);
        Assert.Equal(before + 12, model.LmHeadRows);
    }
}
