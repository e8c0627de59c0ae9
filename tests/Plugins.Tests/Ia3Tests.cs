using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.IA3;
using TorchSharp;

namespace PluginGpt.Plugins.Tests;

public class Ia3Tests
{
    static JsonElement Options(string json) => TinyModel.Options(json);

    [Fact]
    public void GPT2_small_counts_follow_from_PEFTs_GPT2_defaults()
    {
        // PEFT's GPT-2 defaults: target_modules [c_attn, mlp.c_proj], feedforward_modules [mlp.c_proj]. c_attn rescales its
        // 2,304 outputs, mlp.c_proj its 3,072 inputs: 12 × (2,304 + 3,072) = 64,512.
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var ia3 = MethodInstaller.Attach(new Ia3Method(), model, default);
        var report = ParameterReport.Of(model.named_parameters());
        Assert.Equal(64_512, report.Trainable);
        Assert.Equal(124_439_808 + 64_512, report.Total);
        Assert.Equal(24, ia3.Trainable.Count);
        Assert.Equal([2304L, 1], ia3.Trainable.Single(p => p.Name == "base_model.model.transformer.h.0.attn.c_attn.ia3_l").Parameter.shape);
        Assert.Equal([1L, 3072], ia3.Trainable.Single(p => p.Name == "base_model.model.transformer.h.11.mlp.c_proj.ia3_l").Parameter.shape);
    }

    [Fact]
    public void Vectors_rescale_the_attention_output_and_the_feed_forward_input_exactly()
    {
        torch.manual_seed(4);
        var linear = torch.nn.Linear(6, 4);
        var x = torch.randn(3, 6);
        var l = torch.tensor(new float[] { 0.5f, 2f, -1f, 3f });
        using var output = new Ia3Linear(linear, feedforward: false, initOnes: true);
        using (torch.no_grad()) output.Vector.copy_(l.view(4, 1));
        Assert.True(output.forward(x).allclose(linear.forward(x) * l, rtol: 0, atol: 1e-6));

        var input = torch.tensor(new float[] { 1f, 0.25f, 2f, -1f, 0.5f, 4f });
        using var feedforward = new Ia3Linear(linear, feedforward: true, initOnes: true);
        using (torch.no_grad()) feedforward.Vector.copy_(input.view(1, 6));
        var expected = linear.forward(x * input);
        Assert.True(feedforward.forward(x).allclose(expected, rtol: 0, atol: 1e-6));

        var weight = linear.weight!.clone();
        feedforward.Merge();   // W·(l ⊙ x) = (W diag l)·x
        Assert.True(feedforward.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
        Assert.True(linear.weight!.allclose(weight * input, rtol: 1e-6, atol: 1e-6));
        feedforward.Unmerge();
        Assert.True(linear.weight!.allclose(weight, rtol: 1e-6, atol: 1e-6));

        using (torch.no_grad()) output.Vector[1] = 0f;   // dividing by it could not undo a merge: refused before touching W
        Assert.Throws<InvalidOperationException>(output.Merge);
        Assert.True(linear.weight!.allclose(weight, rtol: 0, atol: 0));
    }

    [Fact]
    public void Merged_equals_unmerged_saves_in_PEFTs_layout_and_reloads()
    {
        using var dir = new TempDir();
        using var model = TinyModel.Create(2);
        using var ia3 = MethodInstaller.Attach(new Ia3Method(), model, default);
        using (torch.no_grad()) foreach (var (_, p) in ia3.Trainable) p.add_(torch.randn_like(p) * 0.2);
        var unmerged = TinyModel.Logits(model);
        ia3.Merge();
        Assert.True(unmerged.allclose(TinyModel.Logits(model), rtol: 1e-4, atol: 1e-5));
        ia3.Unmerge();

        ia3.Save(dir.Path);
        var config = JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement;
        Assert.Equal("IA3", config.GetProperty("peft_type").GetString());
        // Full module names, so PEFT resolves exactly the adapted modules.
        Assert.Equal(
            ["transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_attn", "transformer.h.1.mlp.c_proj"],
            config.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(["transformer.h.0.mlp.c_proj", "transformer.h.1.mlp.c_proj"],
            config.GetProperty("feedforward_modules").EnumerateArray().Select(e => e.GetString()!).ToArray());
        using var fresh = TinyModel.Create(2);
        using var reloaded = MethodInstaller.Attach(new Ia3Method(), fresh, default);
        reloaded.Load(dir.Path);
        Assert.True(unmerged.allclose(TinyModel.Logits(fresh), rtol: 0, atol: 0));
    }

    [Fact]
    public void Vectors_are_not_weight_decayed_and_feedforward_modules_must_be_targets()
    {
        using (var model = TinyModel.Create(1))
        using (var ia3 = MethodInstaller.Attach(new Ia3Method(), model, default))
            Assert.All(ia3.Trainable,
                p => Assert.False(ia3.SettingsFor(p.Name, p.Parameter).WeightDecay));   // 2-D, yet decay would pull them to 0, not 1
        using var fresh = TinyModel.Create(1);
        foreach (var (options, field) in new[]
                 {
                     ("""{"target_modules": ["c_attn"], "feedforward_modules": ["mlp.c_fc"]}""", "method.options.feedforward_modules"),
                     ("""{"feedforward_modules": 3}""", "method.options.feedforward_modules"),
                     ("""{"feedforward_modules": "h.(["}""", "method.options.feedforward_modules"),
                     ("""{"target_modules": ["c_attn", 7]}""", "method.options.target_modules"),
                 })
            Assert.Contains(field,
                Assert.Throws<OptionsException>(() => MethodInstaller.Attach(new Ia3Method(), fresh, Options(options))).Message);
    }

    [Fact]
    public void Feedforward_rule_is_PEFTs_plain_suffix_or_a_regex()
    {
        using var model = TinyModel.Create(1);
        // PEFT matches feedforward list entries as plain suffixes: "c_proj" covers attn.c_proj and mlp.c_proj alike.
        using (var ia3 = MethodInstaller.Attach(new Ia3Method(), model,
                   Options("""{"target_modules": ["c_proj"], "feedforward_modules": ["c_proj"]}""")))
            Assert.All(ia3.Trainable, p => Assert.Equal(1, p.Parameter.shape[0]));   // every vector is an input scale [1, in]
        using (var ia3 = MethodInstaller.Attach(new Ia3Method(), model,
                   Options("""{"target_modules": ["c_attn", "mlp.c_proj"], "feedforward_modules": "h\\.1\\.mlp\\.c_proj"}""")))
        {
            var inputScaled = ia3.Trainable.Where(p => p.Parameter.shape[0] == 1).Select(p => p.Name).ToList();
            Assert.Equal(["base_model.model.transformer.h.1.mlp.c_proj.ia3_l"], inputScaled);
        }
    }

    [Fact]
    public void An_attach_that_fails_halfway_leaves_nothing_behind()
    {
        using var model = TinyModel.Create(1);
        var before = TinyModel.Logits(model);
        // LoRA holds h.1's c_attn, so (IA)³ can wrap h.0's but not h.1's: it must undo h.0's before failing.
        using var lora = MethodInstaller.Attach(new PluginGpt.Plugins.LoRA.LoraMethod(), model,
            Options("""{"target_modules": "h\\.1\\.attn\\.c_attn"}"""));
        long live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.Throws<InvalidOperationException>(() =>
            MethodInstaller.Attach(new Ia3Method(), model, Options("""{"target_modules": ["c_attn"], "feedforward_modules": []}""")));
        Assert.IsType<TorchSharp.Modules.Linear>(model.GetModule("h.0.attn.c_attn"));
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        lora.Dispose();
        Assert.True(before.allclose(TinyModel.Logits(model), rtol: 0, atol: 0));
    }
}
