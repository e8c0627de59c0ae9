using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>Loads Hugging Face-format weights and reproduces PyTorch's numbers for them.</summary>
public class GoldenModelTests : IClassFixture<GoldenFixture>
{
    readonly GoldenFixture golden;
    public GoldenModelTests(GoldenFixture golden) => this.golden = golden;

    static Tensor Ids(long[][] rows) => torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    [Fact]
    public void Loads_the_HF_files_and_counts_the_tied_weight_once()
    {
        using var model = GptCheckpoint.Load(GoldenFixture.Directory);
        Assert.Equal(golden.TotalParameters, ParameterSet.Count(model.parameters()));
    }

    [Fact]
    public void Loss_and_logits_equal_PyTorchs()
    {
        using var model = GptCheckpoint.Load(GoldenFixture.Directory);
        model.eval();
        using var _ = torch.no_grad();
        var input = Ids(golden.InputIds);
        var logits = model.Logits(input);
        var loss = model.LanguageModelLoss(input, Ids(golden.Targets)).item<float>();
        Assert.Equal(golden.Loss, loss, 1e-5 * golden.Loss);

        var first = logits[0, 0, ..8].data<float>().ToArray();
        var last = logits[1, -1, ^8..].data<float>().ToArray();
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(golden.LogitsFirstRowFirst8[i], first[i], 1e-5);
            Assert.Equal(golden.LogitsLastRowLast8[i], last[i], 1e-5);
        }
        Assert.Equal(golden.LogitsSum, logits.sum().item<float>(), 1e-5 * golden.LogitsAbsSum);
        Assert.Equal(golden.LogitsAbsSum, logits.abs().sum().item<float>(), 1e-5 * golden.LogitsAbsSum);
    }

    [Fact]
    public void In_bf16_the_loss_and_logits_agree_with_PyTorchs_fp32_within_bf16s_precision()
    {
        // bf16 keeps 8 bits of mantissa (relative step 2^-8 ≈ 0.4 %): matmuls in bf16 with fp32 accumulation, LayerNorm and the
        // loss in fp32 (Autocast). Stated tolerance: the loss within 1 %, every compared logit within 2 % of the largest one.
        using var model = GptCheckpoint.Load(GoldenFixture.Directory);
        model.eval();
        using var _ = torch.no_grad();
        using var region = Autocast.Use(ScalarType.BFloat16);
        var input = Ids(golden.InputIds);
        var logits = Autocast.Float(model.Logits(input));
        Assert.Equal(ScalarType.BFloat16, model.Logits(input).dtype);   // the matmuls did run in bf16
        var loss = model.LanguageModelLoss(input, Ids(golden.Targets)).item<float>();
        Assert.Equal(golden.Loss, loss, 0.01 * golden.Loss);
        double scale = golden.LogitsFirstRowFirst8.Concat(golden.LogitsLastRowLast8).Max(Math.Abs);
        var first = logits[0, 0, ..8].data<float>().ToArray();
        var last = logits[1, -1, ^8..].data<float>().ToArray();
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(golden.LogitsFirstRowFirst8[i], first[i], 0.02 * scale);
            Assert.Equal(golden.LogitsLastRowLast8[i], last[i], 0.02 * scale);
        }
        Assert.Equal(golden.LogitsAbsSum, logits.abs().sum().item<float>(), 0.01 * golden.LogitsAbsSum);
    }

    [Fact]
    public void Greedy_generation_equals_PyTorchs_with_and_without_cache()
    {
        using var model = GptCheckpoint.Load(GoldenFixture.Directory);
        foreach (var cache in new[] { true, false })
        {
            var generated = TokenGenerator.Generate(model, golden.GreedyPrompt,
                new GenerationOptions { Greedy = true, MaxNewTokens = 16, UseKvCache = cache }).ToArray();
            Assert.Equal(golden.GreedyNext16, generated);
        }
    }
}
