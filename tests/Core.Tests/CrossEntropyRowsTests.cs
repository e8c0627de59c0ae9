using System.Runtime.Intrinsics;
using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>The fused LM loss's row pass (<see cref="CrossEntropyRows"/>) against LibTorch's cross-entropy and softmax. Like the
/// matrix–vector kernel's tests, these check nothing on a CPU without accelerated 512-bit vectors, where the pass is not used.
/// </summary>
public class CrossEntropyRowsTests
{
    [Fact]
    public void The_exponential_is_within_a_few_units_in_the_last_place_and_zero_past_fp32s_normal_range()
    {
        if (!CrossEntropyRows.Available) return;
        double worst = 0;
        for (int i = 0; i < 200_000; i += 16)
        {
            var x = Vector512.Create(Enumerable.Range(i, 16).Select(j => -87.3f * j / 200_000).ToArray());
            var e = CrossEntropyRows.Exp(x);
            for (int lane = 0; lane < 16; lane++)
            {
                double exact = Math.Exp(x.GetElement(lane));
                worst = Math.Max(worst, Math.Abs(e.GetElement(lane) - exact) / exact);
            }
        }
        Assert.InRange(worst, 0, 3e-7);   // fp32's unit roundoff is 6e-8
        Assert.Equal(1f, CrossEntropyRows.Exp(Vector512<float>.Zero).GetElement(0));
        Assert.Equal(0f, CrossEntropyRows.Exp(Vector512.Create(-90f)).GetElement(0));
        Assert.Equal(0f, CrossEntropyRows.Exp(Vector512.Create(float.NegativeInfinity)).GetElement(0));
    }

    /// <summary>Logits [rows, width] of a trained head's spread, and targets with two ignored rows; 1,013 words: 63 vectors of
    /// 16 and a tail of 5.</summary>
    static (Tensor Logits, Tensor Targets) Chunk(ScalarType type)
    {
        var g = new TorchSharp.torch.Generator(5);
        var logits = (randn([37, 1013], generator: g) * 4).to(type);
        var targets = randint(0, 1013, [37], generator: g);
        targets[3] = tensor(-1L);
        targets[36] = tensor(-1L);
        return (logits, targets);
    }

    /// <summary>LibTorch's loss sum (ignore_index −1) and gradient softmax − one-hot (zero on ignored rows) in fp32.</summary>
    static (double Loss, Tensor Gradient) Reference(Tensor logits, Tensor targets)
    {
        var z = logits.to(ScalarType.Float32);
        double loss = nn.functional.cross_entropy(z, targets, ignore_index: -1, reduction: nn.Reduction.Sum).item<float>();
        var counts = targets.ge(0);
        var gradient = z.softmax(1) - nn.functional.one_hot(targets.clamp(min: 0), z.shape[1]).to(ScalarType.Float32);
        return (loss, gradient * counts.unsqueeze(1));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Rows_give_LibTorchs_loss_and_gradient_in_place_in_the_logits_type(ScalarType type)
    {
        if (!CrossEntropyRows.Available) return;
        var (logits, targets) = Chunk(type);
        var (loss, gradient) = Reference(logits, targets);
        Assert.True(CrossEntropyRows.Applies(logits));
        double ours = CrossEntropyRows.LossAndGradientInPlace(logits, targets.data<long>().ToArray());
        Assert.Equal(loss, ours, loss * 1e-6);
        Assert.Equal(type, logits.dtype);
        Assert.Equal(0, logits[3].to(ScalarType.Float32).abs().sum().item<float>());   // an ignored row
        Assert.Equal(0, logits[36].to(ScalarType.Float32).abs().sum().item<float>());
        if (type == ScalarType.Float32)
        {
            var error = (logits - gradient).abs().max().item<float>();
            Assert.True(error <= 2.4e-7, $"{error}");   // two units in the last place of values up to 1
            return;
        }
        // The same rounding of values that may differ in fp32's last bits: equal, or one bf16 step (2⁻⁷ relative) apart.
        var rounded = gradient.to(ScalarType.BFloat16).to(ScalarType.Float32);
        var difference = (logits.to(ScalarType.Float32) - rounded).abs();
        Assert.True(difference.le(rounded.abs() * Math.Pow(2, -7) + 1e-30).all().item<bool>());
        Assert.True(difference.gt(0).sum().item<long>() < logits.numel() / 100);
    }

    [Fact]
    public void A_row_whose_logits_lie_far_apart_underflows_to_zero_as_LibTorchs_softmax_does()
    {
        if (!CrossEntropyRows.Available) return;
        var logits = tensor(new float[] { 0, -200, 50, 49, -1e30f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }).view(1, 17);
        var targets = tensor(new long[] { 1 });
        var (loss, gradient) = Reference(logits, targets);
        double ours = CrossEntropyRows.LossAndGradientInPlace(logits, [1]);
        Assert.Equal(loss, ours, 1e-3);   // 250 + log(1 + e⁻¹ + …)
        Assert.True(logits.allclose(gradient, rtol: 0, atol: 1e-7));
    }

    [Fact]
    public void A_target_past_the_vocabulary_throws_instead_of_reading_past_the_row()
    {
        if (!CrossEntropyRows.Available) return;
        var (logits, targets) = Chunk(ScalarType.Float32);
        targets[5] = tensor(1013L);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropyRows.LossAndGradientInPlace(logits, targets.data<long>().ToArray()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_fused_loss_takes_the_row_pass_in_fp32_and_bf16(bool bf16)
    {
        if (!CrossEntropyRows.Available) return;
        manual_seed(3);
        using var model = new Decoder(Presets.Tiny);
        var ids = randint(0, Presets.Tiny.Vocab, [2, 9]);
        using var region = Autocast.Use(bf16 ? ScalarType.BFloat16 : null);
        long before = CrossEntropyRows.Calls;
        model.LanguageModelLossSum(model.Forward(ids), ids, rowsPerChunk: 5).Sum.backward();   // 18 rows: 5 + 5 + 5 + 3
        Assert.Equal(before + 4, CrossEntropyRows.Calls);
    }
}
