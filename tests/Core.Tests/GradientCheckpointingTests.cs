using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Core.Tests;

/// <summary>Memory is measured in separate processes (Host.Tests TrainingLoopTests): in one process the allocator's reuse blurs
/// it.</summary>
public class GradientCheckpointingTests
{
    static (float Loss, Dictionary<string, float[]> Grads) Step(GptConfig config, bool checkpointing, int batch, int length,
        bool bf16 = false)
    {
        // Every tensor of the step (the checkpoint's autograd nodes hang on them) is freed here, on this thread, as a training
        // step's dispose scope does; left to finalizers, a native graph could outlive the managed function it calls back.
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        using var model = new Decoder(config) { GradientCheckpointing = checkpointing };
        model.train();
        torch.manual_seed(11);   // the same inputs and the same dropout draws in both runs
        using var x = torch.randint(0, config.Vocab, [batch, length]);
        // In bf16 a step caches its weight casts, as training steps do: the checkpoint's first forward (gradients off) must not
        // hand its untracked casts to the recomputation.
        using var region = PluginGpt.Abstractions.Autocast.Use(bf16 ? torch.ScalarType.BFloat16 : null);
        using var casts = PluginGpt.Abstractions.Autocast.CacheCasts();
        using var loss = model.LanguageModelLoss(x, x);
        loss.backward();
        return (loss.item<float>(), model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.data<float>().ToArray()));
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("llama-tiny")]
    public void Checkpointed_blocks_give_the_same_loss_and_gradients_with_dropout_on(string preset)
    {
        var config = Presets.Get(preset) with { EmbeddingDropout = 0.1, AttentionDropout = 0.1, ResidualDropout = 0.1 };
        var plain = Step(config, checkpointing: false, 2, 16);
        var recomputed = Step(config, checkpointing: true, 2, 16);
        Assert.Equal(plain.Loss, recomputed.Loss);
        Assert.Equal(plain.Grads.Keys, recomputed.Grads.Keys);
        foreach (var (name, grad) in plain.Grads)
            for (int i = 0; i < grad.Length; i++)
                Assert.True(Math.Abs(grad[i] - recomputed.Grads[name][i]) <= 1e-6,
                    $"{name}[{i}]: {grad[i]} vs {recomputed.Grads[name][i]}");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]   // bf16 attention's own dropout (ScaledAttention's unfused path) is drawn again in the recomputation
    public void In_bf16_with_cached_casts_checkpointed_blocks_get_the_same_gradients(double dropout)
    {
        var config = Presets.Tiny with { EmbeddingDropout = dropout, AttentionDropout = dropout, ResidualDropout = dropout };
        var plain = Step(config, checkpointing: false, 2, 16, bf16: true);
        var recomputed = Step(config, checkpointing: true, 2, 16, bf16: true);
        Assert.Equal(plain.Loss, recomputed.Loss);
        foreach (var (name, grad) in plain.Grads)
        {
            double scale = grad.Max(Math.Abs) + 1e-12;
            Assert.True(grad.Zip(recomputed.Grads[name]).Max(g => Math.Abs(g.First - g.Second)) <= 1e-3 * scale,
                $"{name}: checkpointed gradient differs (largest plain component {scale})");
        }
    }
}
