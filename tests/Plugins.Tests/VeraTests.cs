using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.VeRA;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>VeRA against PEFT's counts, keys, initialisation and formulas.</summary>
public class VeraTests
{
    static Decoder Tiny() => TinyModel.Create(6);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    static void Perturb(IAttachedMethod vera)
    {
        using var _ = torch.no_grad();
        foreach (var (_, p) in vera.Trainable) p.copy_(torch.randn_like(p) * 0.5);
    }

    [Fact]
    public void GPT2_small_counts_follow_from_PEFTs_defaults()
    {
        // PEFT's VeraConfig: r = 256, targets c_attn on GPT-2 (the LoRA mapping). Per layer λ_b [2,304] + λ_d [256] = 2,560
        // trainable → 30,720 over 12 layers. The shared frozen projections A [256, 768] (196,608) and B [2,304, 256] (589,824)
        // exist once, not per layer.
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var vera = MethodInstaller.Attach(new VeraMethod(), model, default);
        var report = ParameterReport.Of(model.named_parameters());
        Assert.Equal(30_720, report.Trainable);
        Assert.Equal(124_439_808 + 30_720 + 196_608 + 589_824, report.Total);
        const string layer = "base_model.model.transformer.h.0.attn.c_attn.";
        long[] Shape(string key) => vera.Trainable.Single(p => p.Name == layer + key).Parameter.shape;
        Assert.Equal([256L], Shape("vera_lambda_d"));
        Assert.Equal([2304L], Shape("vera_lambda_b"));
    }

    [Fact]
    public void Projections_are_one_seeded_draw_shared_by_every_layer_and_the_update_is_PEFTs()
    {
        using var model = Tiny();
        var before = Logits(model);
        using var vera = MethodInstaller.Attach(new VeraMethod(), model,
            Options("""{"r": 8, "target_modules": ["c_attn", "mlp.c_proj"]}"""));
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));   // λ_b = 0
        var first = (VeraLinear)model.GetModule("h.0.attn.c_attn");
        Assert.All(first.LambdaD.data<float>().ToArray(), v => Assert.Equal(0.1f, v));

        // A [8, max in = 128 (mlp.c_proj)], B [max out = 96 (c_attn), 8], drawn A first then B from one generator seeded 0,
        // each uniform in ±√6/√fan_in.
        var projections = (VeraProjections)((IDecoder)model).Module.named_children().Single(c => c.name == "vera_projections").module;
        var generator = new torch.Generator(0);
        double boundA = Math.Sqrt(6.0 / 128), boundB = Math.Sqrt(6.0 / 8);
        var a = torch.empty(8, 128).uniform_(-boundA, boundA, generator);
        var b = torch.empty(96, 8).uniform_(-boundB, boundB, generator);
        Assert.True(projections.A.allclose(a, rtol: 0, atol: 0));
        Assert.True(projections.B.allclose(b, rtol: 0, atol: 0));

        Perturb(vera);
        var mlp = (VeraLinear)model.GetModule("h.1.mlp.c_proj");   // 128 → 32: A's 128 columns, B's first 32 rows
        var x = torch.randn(3, 128);
        using (torch.no_grad())
        {
            var expected = mlp.Base.forward(x)
                + mlp.LambdaB * x.matmul(a.t()).mul(mlp.LambdaD).matmul(b[..32, ..].t());
            Assert.True(mlp.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
        }
        TinyModel.AssertMergeKeepsLogits(model, vera);
    }

    [Theory]
    [InlineData(true, 2 * 2 + 2)]   // λ_b and λ_d per layer, and PEFT's base_model.vera_A / vera_B
    [InlineData(false, 2 * 2)]
    public void Adapter_files_use_PEFTs_keys_and_reload_with_or_without_the_projections(bool saveProjection, int tensors)
    {
        using var dir = new TempDir();
        using var model = Tiny();
        string options = $$"""{"r": 16, "save_projection": {{saveProjection.ToString().ToLowerInvariant()}}}""";
        using var vera = MethodInstaller.Attach(new VeraMethod(), model, Options(options));
        Perturb(vera);
        var adapted = Logits(model);
        vera.Save(dir.Path);
        var (entries, _, _) = Safetensors.ReadHeader(dir["adapter_model.safetensors"]);
        Assert.Equal(tensors, entries.Count);
        Assert.Equal(new long[] { 96 }, entries["base_model.model.transformer.h.1.attn.c_attn.vera_lambda_b"].Shape);
        if (saveProjection) Assert.Equal(new long[] { 16, 32 }, entries["base_model.vera_A"].Shape);
        var config = JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement;
        Assert.Equal("VERA", config.GetProperty("peft_type").GetString());

        using var fresh = Tiny();
        using (var reloaded = MethodInstaller.Attach(new VeraMethod(), fresh, Options(options)))
        {
            reloaded.Load(dir.Path);
            Assert.True(adapted.allclose(Logits(fresh), rtol: 0, atol: 0));
        }
        Assert.True(Logits(Tiny()).allclose(Logits(fresh), rtol: 0, atol: 0));   // detached: the base model, projections gone
        using var otherKey = MethodInstaller.Attach(new VeraMethod(), fresh, Options("""{"r": 16, "projection_prng_key": 3}"""));
        Assert.Contains("projection_prng_key", Assert.Throws<CheckpointException>(() => otherKey.Load(dir.Path)).Message);
    }
}
