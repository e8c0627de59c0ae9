using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

public class ModelTests
{
    static Decoder Tiny(NormPlacement norm = NormPlacement.Pre, bool tied = true)
    {
        torch.manual_seed(7);
        var model = new Decoder(Presets.Tiny with { Norm = norm, TiedHead = tied });
        model.eval();
        return model;
    }

    static Tensor RandomIds(long batch, long steps, int seed = 3)
    {
        torch.manual_seed(seed);
        return torch.randint(0, Presets.Tiny.Vocab, [batch, steps]);
    }

    [Fact]
    public void GPT2_small_has_exactly_124439808_parameters()
    {
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        Assert.Equal(124_439_808, ParameterSet.Count(model.parameters()));
    }

    [Fact]
    public void GPT1_is_12_post_LN_layers_of_768_with_40478_tokens_and_512_positions_and_116534784_parameters()
    {
        // Radford et al. 2018 (HF openai-gpt): tied head, no final LayerNorm (post-LN blocks normalise after each residual add).
        var c = Presets.Gpt1;
        Assert.Equal((12, 12, 768, 3072, 512, 40478, NormPlacement.Post),
            (c.Layers, c.Heads, c.ModelDim, c.InnerDim, c.Context, c.Vocab, c.Norm));
        using var model = new Decoder(c, torch.META);
        Assert.Equal(116_534_784, ParameterSet.Count(model.parameters()));
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("ln_f"));
    }

    [Fact]
    public void Parameter_count_matches_the_closed_form_for_both_norm_placements_and_heads()
    {
        var c = Presets.Tiny;
        long d = c.ModelDim, block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
        long embeddings = c.Vocab * d + c.Context * d;
        Assert.Equal(embeddings + c.Layers * block + 2 * d, ParameterSet.Count(Tiny().parameters()));
        Assert.Equal(embeddings + c.Layers * block, ParameterSet.Count(Tiny(NormPlacement.Post).parameters()));   // GPT-1: no ln_f
        Assert.Equal(embeddings + c.Layers * block + 2 * d + c.Vocab * d, ParameterSet.Count(Tiny(tied: false).parameters()));
    }

    [Fact]
    public void Tied_head_is_one_tensor_listed_once_for_the_optimizer()
    {
        using var model = Tiny();
        var distinct = model.DistinctParameters();
        Assert.Equal(distinct.Count, distinct.Select(p => p.Parameter.Handle).Distinct().Count());
        Assert.Single(distinct, p => p.Name == "wte.weight");
        // One AdamW step moves the tied weight exactly as one update, not two.
        var before = model.TokenEmbedding.weight!.clone();
        var optimizer = torch.optim.AdamW(distinct.Select(p => p.Parameter), lr: 0.1);
        model.train();
        var ids = RandomIds(2, 8);
        model.LanguageModelLoss(ids, ids).backward();
        optimizer.step();
        var moved = (model.TokenEmbedding.weight! - before).abs().max().item<float>();
        Assert.InRange(moved, 0.09f, 0.1001f);   // Adam's first step is lr·sign(g): one step of 0.1, not 0.2
    }

    [Fact]
    public void Module_paths_are_GPT2s()
    {
        using var model = Tiny();
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var n in new[] { "wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.bias",
                                  "h.1.ln_2.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight", "ln_f.weight" })
            Assert.Contains(n, names);
        Assert.Equal(8, model.LinearPaths().Count);
    }

    [Theory]
    [InlineData(NormPlacement.Pre)]
    [InlineData(NormPlacement.Post)]
    public void KV_cache_logits_equal_full_recompute(NormPlacement norm)
    {
        using var model = Tiny(norm);
        using var _ = torch.no_grad();
        var ids = RandomIds(2, 12);
        var full = model.Logits(ids);
        using var cache = new KvCache(model.Config.Layers);
        var parts = new[] { model.Logits(ids[.., ..5], cache), model.Logits(ids[.., 5..6], cache), model.Logits(ids[.., 6..], cache) };
        var stitched = torch.cat(parts, 1);
        Assert.True(full.allclose(stitched, rtol: 1e-5, atol: 1e-5), $"max diff {(full - stitched).abs().max().item<float>()}");
    }

    [Fact]
    public void KV_cache_logits_equal_full_recompute_across_the_caches_growth()
    {
        torch.manual_seed(7);
        using var model = new Decoder(Presets.Tiny with { Context = 256 });
        model.eval();
        using var _ = torch.no_grad();
        var ids = RandomIds(2, 240);
        var full = model.Logits(ids);
        using var cache = new KvCache(model.Config.Layers, maxLength: model.Config.Context);
        // 3 positions (a buffer of 3 + 64), one at a time past it (doubled to 134 at 68), 150 at once (regrown to 220 + 64 =
        // 284, more than double, but capped at the context's 256), then one at a time again.
        var parts = new List<Tensor> { model.Logits(ids[.., ..3], cache) };
        for (int t = 3; t < 70; t++) parts.Add(model.Logits(ids[.., t..(t + 1)], cache));
        parts.Add(model.Logits(ids[.., 70..220], cache));
        for (int t = 220; t < 240; t++) parts.Add(model.Logits(ids[.., t..(t + 1)], cache));
        Assert.Equal(240, cache.Length);
        Assert.Equal(256, cache.Capacity);
        var stitched = torch.cat(parts, 1);
        Assert.True(full.allclose(stitched, rtol: 1e-5, atol: 1e-5), $"max diff {(full - stitched).abs().max().item<float>()}");
        // Another batch size cannot continue this cache.
        Assert.Throws<InvalidOperationException>(() => model.Logits(ids[..1, ..1], cache));
    }

    [Fact]
    public void Masked_keys_are_invisible_to_every_other_position()
    {
        using var model = Tiny();
        using var _ = torch.no_grad();
        var ids = RandomIds(1, 6);
        var otherPadding = ids.clone();
        otherPadding[0, ..3] = torch.tensor(new long[] { 9, 99, 199 });
        var mask = torch.tensor(new long[] { 0, 0, 0, 1, 1, 1 }).unsqueeze(0);
        var a = model.Logits(ids, keyPaddingMask: mask)[0, 3..];
        var b = model.Logits(otherPadding, keyPaddingMask: mask)[0, 3..];
        Assert.True(a.allclose(b, rtol: 0, atol: 1e-6));
        Assert.False(model.Logits(ids)[0, 3..]
            .allclose(model.Logits(otherPadding)[0, 3..], rtol: 0, atol: 1e-6));   // unmasked, they matter
        Assert.False(model.Logits(otherPadding, keyPaddingMask: mask).isnan().any().item<bool>());   // padded rows still see themselves
        var ones = torch.ones(1, 6, ScalarType.Int64);
        Assert.True(model.Logits(ids, keyPaddingMask: ones).allclose(model.Logits(ids), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Growing_the_vocabulary_keeps_every_old_logit()
    {
        using var model = GptCheckpoint.Load(GoldenFixture.Directory);   // HF-format GPT-2, 512 tokens
        model.eval();
        using var _ = torch.no_grad();
        var ids = RandomIds(2, 10);
        var before = model.Logits(ids);
        model.ResizeTokenEmbeddings(516);
        var after = model.Logits(ids);
        Assert.Equal(516, model.Config.Vocab);
        Assert.Equal(516, after.shape[2]);
        Assert.True(before.allclose(after[.., .., ..512], rtol: 0, atol: 0));
        Assert.Equal(43_904 + 4 * 32, ParameterSet.Count(model.parameters()));   // still tied: the head grew with wte
        Assert.Throws<ArgumentException>(() => model.ResizeTokenEmbeddings(100));
    }

    [Fact]
    public void Unknown_module_path_lists_valid_ones()
    {
        using var model = Tiny();
        var e = Assert.Throws<OptionsException>(() => model.ReplaceModule("h.0.attn.q_proj", m => m));
        Assert.Contains("h.0.attn.c_attn", e.Message);
    }

    [Fact]
    public void Exceeding_the_context_is_a_clear_error()
    {
        using var model = Tiny();
        var e = Assert.Throws<ArgumentException>(() => model.Logits(torch.zeros(1, Presets.Tiny.Context + 1, ScalarType.Int64)));
        Assert.Contains("n_positions", e.Message);
    }
}
