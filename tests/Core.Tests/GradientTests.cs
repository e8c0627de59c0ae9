using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>Autograd's gradients of the LM loss agree with central finite differences (float64), for both norm placements.</summary>
public class GradientTests
{
    [Fact]
    public void The_loss_in_row_chunks_equals_one_logits_tensor_in_value_and_gradients()
    {
        torch.manual_seed(5);
        using var model = new Decoder(Presets.LlamaTiny);
        var ids = torch.randint(0, Presets.LlamaTiny.Vocab, [3, 10]);
        var targets = torch.randint(0, Presets.LlamaTiny.Vocab, [3, 10]);
        targets[1, 4] = torch.tensor(-1L);   // ignored positions count in neither
        var logits = model.Logits(ids);
        var whole = nn.functional.cross_entropy(logits.view(-1, logits.shape[2]), targets.view(-1), ignore_index: -1);
        whole.backward();
        var expected = model.parameters().Select(p => p.grad!.clone()).ToList();
        model.zero_grad();
        var (sum, count) = model.LanguageModelLossSum(model.Forward(ids), targets, rowsPerChunk: 7);   // 30 rows: 7+7+7+7+2
        var chunked = sum / count;
        chunked.backward();
        Assert.Equal(29, count.item<float>());
        Assert.Equal(whole.item<float>(), chunked.item<float>(), 5);
        foreach (var (p, g) in model.parameters().Zip(expected)) Assert.True(torch.allclose(p.grad!, g, rtol: 1e-5, atol: 1e-7));
        Assert.Equal(whole.item<float>(), model.LanguageModelLoss(ids, targets).item<float>(), 5);
    }

    [Theory]
    [InlineData(NormPlacement.Pre)]
    [InlineData(NormPlacement.Post)]
    public void Backprop_matches_finite_differences(NormPlacement norm)
    {
        torch.manual_seed(17);
        using var model = new Decoder(Presets.Tiny with { Norm = norm, Layers = 2, Context = 16 });
        model.to(ScalarType.Float64);
        model.eval();
        var ids = torch.randint(0, Presets.Tiny.Vocab, [2, 8]);
        var targets = torch.randint(0, Presets.Tiny.Vocab, [2, 8]);
        model.LanguageModelLoss(ids, targets).backward();

        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var rng = new Random(3);
        foreach (var name in new[] { "wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.bias", "h.1.mlp.c_fc.weight",
                                     "h.1.ln_2.weight", "h.0.ln_1.bias" })
        {
            var p = parameters[name];
            var flat = p.view(-1);
            var grad = p.grad!.view(-1);
            // wte/wpe rows of tokens and positions that occur, so the gradient is not trivially zero
            long index = name == "wte.weight" ? ids[0, 0].item<long>() * p.shape[1] + rng.Next((int)p.shape[1])
                       : name == "wpe.weight" ? 3 * p.shape[1] + rng.Next((int)p.shape[1])
                       : rng.Next((int)flat.shape[0]);
            double analytic = grad[index].item<double>();
            const double h = 1e-6;
            double original = flat[index].item<double>();
            double Loss(double value)
            {
                using var _ = torch.no_grad();
                flat[index] = value;
                return model.LanguageModelLoss(ids, targets).item<double>();
            }
            double numeric = (Loss(original + h) - Loss(original - h)) / (2 * h);
            Loss(original);
            Assert.True(Math.Abs(numeric - analytic) <= 1e-6 + 1e-5 * Math.Abs(analytic),
                $"{name}[{index}]: autograd {analytic}, finite difference {numeric}");
            Assert.True(Math.Abs(analytic) > 1e-9, $"{name}[{index}] has no gradient to check");
        }
    }
}
