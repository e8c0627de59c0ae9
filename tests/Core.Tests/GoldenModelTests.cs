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
