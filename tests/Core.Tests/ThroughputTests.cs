using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>What MFU is computed from: the model's FLOPs per token and its token counters, read through the SDK's IDecoder (no
/// downcast to our own decoder class).</summary>
public class ThroughputTests
{
    [Fact]
    public void Training_flops_per_token_is_nanoGPTs_estimate()
    {
        // GPT-2 small at 1,024 tokens: 6 × (124,439,808 − 1,024 × 768 learned positions) + 12 × 12 layers × 768 × 1,024.
        Assert.Equal(6.0 * (124_439_808 - 1024 * 768) + 12.0 * 12 * 768 * 1024,
            Presets.Get("gpt2-small").TrainingFlopsPerToken(124_439_808, 1024));
        // Rotary positions are no parameters: nothing is excluded.
        var llama = Presets.Get("llama-tiny");
        Assert.Equal(6.0 * 1000 + 12.0 * llama.Layers * llama.ModelDim * 16, llama.TrainingFlopsPerToken(1000, 16));
    }

    [Fact]
    public void The_decoder_counts_tokens_and_sequences_through_the_SDK_interface()
    {
        using var model = new Decoder(Presets.Tiny);
        IDecoder seen = model;
        Assert.Equal(0, seen.TokensForwarded);
        using (no_grad()) using (var logits = model.Forward(zeros(2, 5, dtype: ScalarType.Int64))) { }
        Assert.Equal(10, seen.TokensForwarded);
        Assert.Equal(2, seen.SequencesForwarded);
    }
}
