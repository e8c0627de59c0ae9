using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Core.Tests;

public class GenerationTests
{
    static Decoder Tiny() { torch.manual_seed(21); var m = new Decoder(Presets.Tiny); m.eval(); return m; }
    static readonly int[] Prompt = [3, 14, 15, 92, 65];

    [Fact]
    public void Greedy_repeats_exactly()
    {
        using var model = Tiny();
        var o = new GenerationOptions { Greedy = true, MaxNewTokens = 20 };
        Assert.Equal(TokenGenerator.Generate(model, Prompt, o).ToArray(), TokenGenerator.Generate(model, Prompt, o).ToArray());
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_the_seed_matters()
    {
        using var model = Tiny();
        var o = new GenerationOptions { Temperature = 1.5, MaxNewTokens = 30, Seed = 42 };
        var a = TokenGenerator.Generate(model, Prompt, o).ToArray();
        Assert.Equal(a, TokenGenerator.Generate(model, Prompt, o).ToArray());
        Assert.NotEqual(a, TokenGenerator.Generate(model, Prompt, o with { Seed = 43 }).ToArray());
        Assert.Equal(a, TokenGenerator.Generate(model, Prompt, o with { UseKvCache = false }).ToArray());   // cache changes nothing
    }

    [Fact]
    public void Generation_slides_past_the_context()
    {
        using var model = Tiny();
        var generated = TokenGenerator.Generate(model, Prompt,
            new GenerationOptions { Greedy = true, MaxNewTokens = Presets.Tiny.Context + 10 }).ToArray();
        Assert.Equal(Presets.Tiny.Context + 10, generated.Length);
    }

    [Fact]
    public void Stop_token_ends_generation()
    {
        using var model = Tiny();
        var free = TokenGenerator.Generate(model, Prompt, new GenerationOptions { Greedy = true, MaxNewTokens = 10 }).ToArray();
        var stopped = TokenGenerator.Generate(model, Prompt,
            new GenerationOptions { Greedy = true, MaxNewTokens = 10, StopTokens = [free[3]] }).ToArray();
        Assert.Equal(free[..Array.IndexOf(free, free[3])], stopped);
    }

    [Fact]
    public void Top_k_keeps_exactly_the_k_largest()
    {
        var logits = torch.tensor(new float[] { 1, 5, 3, 4, 2 });
        var kept = LogitsProcessing.TopK(logits, 2);
        Assert.Equal(new[] { false, true, false, true, false }, kept.isfinite().data<bool>().ToArray());
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_reaching_p()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05: p = 0.7 needs the first two (0.5 < 0.7 ≤ 0.8).
        var logits = torch.tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }).log();
        Assert.Equal(new[] { true, true, false, false }, LogitsProcessing.TopP(logits, 0.7).isfinite().data<bool>().ToArray());
        Assert.Equal(new[] { true, false, false, false }, LogitsProcessing.TopP(logits, 0.5).isfinite().data<bool>().ToArray());
    }

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_seen_logits()
    {
        var logits = torch.tensor(new float[] { 2, -2, 2, -2 });
        var penalised = LogitsProcessing.ApplyRepetitionPenalty(logits, [0, 1, 1], 2.0).data<float>().ToArray();
        Assert.Equal(new float[] { 1, -4, 2, -2 }, penalised);
    }

    [Fact]
    public void Invalid_options_are_rejected_with_their_name()
    {
        using var model = Tiny();
        var e = Assert.Throws<OptionsException>(() =>
            TokenGenerator.Generate(model, Prompt, new GenerationOptions { TopP = 1.5 }).ToArray());
        Assert.Contains("top-p", e.Message);
    }

    [Fact]
    public void Ids_beyond_the_tokenizers_vocabulary_are_never_produced()
    {
        using var model = Tiny();
        var free = TokenGenerator.Generate(model, Prompt, new GenerationOptions { Seed = 5, MaxNewTokens = 40 }).ToArray();
        int limit = free.Min();   // every id the unlimited model sampled is at or above it
        Assert.Contains(free, id => id >= limit + 1);
        var limited = TokenGenerator.Generate(model, Prompt,
            new GenerationOptions { Seed = 5, MaxNewTokens = 40, VocabularyLimit = limit + 1 }).ToArray();
        Assert.All(limited, id => Assert.True(id <= limit, $"id {id} beyond the limit {limit + 1}"));
    }
}
