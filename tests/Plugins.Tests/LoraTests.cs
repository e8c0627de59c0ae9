using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.LoRA;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

public class LoraTests
{
    static Decoder Tiny() => TinyModel.Create(3);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Ids => TinyModel.Ids;
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    /// <summary>Gives every B a random value, as training would, so the update is not zero.</summary>
    static void Perturb(IAttachedMethod lora)
    {
        using var _ = torch.no_grad();
        foreach (var (name, p) in lora.Trainable) if (name.Contains("lora_B")) p.copy_(torch.randn_like(p) * 0.1);
    }

    [Fact]
    public void GPT2_small_with_r8_on_c_attn_has_PEFTs_counts()
    {
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 8}"""));
        var report = ParameterReport.Of(model.named_parameters());
        Assert.Equal(294_912, report.Trainable);
        Assert.Equal(124_734_720, report.Total);
        Assert.Equal(294_912, lora.Trainable.Sum(p => p.Parameter.numel()));
    }

    [Fact]
    public void Init_is_PEFTs_and_the_adapted_model_starts_as_the_base()
    {
        using var model = Tiny();
        var before = Logits(model);
        using var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 4}"""));
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));
        var a = lora.Trainable.First(p => p.Name.EndsWith("lora_A.weight")).Parameter;
        double bound = 1 / Math.Sqrt(32);   // kaiming-uniform with a = √5: √(6 / ((1 + 5)·fan_in)) = 1/√fan_in
        Assert.InRange(a.abs().max().item<float>(), 0.5 * bound, bound);
        Assert.All(lora.Trainable.Where(p => p.Name.EndsWith("lora_B.weight")),
            p => Assert.Equal(0f, p.Parameter.abs().sum().item<float>()));
    }

    [Fact]
    public void Lora_dropout_is_FastDropout_with_the_configured_rate()
    {
        using var model = Tiny();
        using var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 4, "lora_dropout": 0.05}"""));
        var layers = model.modules().OfType<FastDropoutLayer>().Where(d => d.P == 0.05).ToList();
        Assert.Equal(model.modules().OfType<LoraLinear>().Count(), layers.Count);
        Assert.NotEmpty(layers);
        Assert.Empty(model.modules().OfType<TorchSharp.Modules.Dropout>());
    }

    [Fact]
    public void Merged_equals_unmerged_and_unmerge_restores_the_base()
    {
        using var model = Tiny();
        var baseWeight = model.Blocks[0].Attention.GetChild("c_attn") is var c ? ((TorchSharp.Modules.Linear)c).weight!.clone() : null!;
        using var lora = MethodInstaller.Attach(new LoraMethod(), model,
            Options("""{"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "mlp.c_fc"]}"""));
        Perturb(lora);
        var unmerged = Logits(model);
        lora.Merge();
        var merged = Logits(model);
        Assert.True(unmerged.allclose(merged, rtol: 1e-5, atol: 1e-5), $"max diff {(unmerged - merged).abs().max().item<float>()}");
        lora.Unmerge();
        Assert.True(unmerged.allclose(Logits(model), rtol: 1e-5, atol: 1e-6));
        var wrapped = (LoraLinear)model.GetModule("h.0.attn.c_attn");
        Assert.True(wrapped.Base.weight!.allclose(baseWeight, rtol: 0, atol: 1e-6));
    }

    [Theory]
    [InlineData(false, 16.0 / 4)]
    [InlineData(true, 16.0 / 2)]   // rsLoRA: α/√r
    public void Update_is_B_times_A_scaled_by_alpha_over_r_or_root_r(bool rs, double scaling)
    {
        using var model = Tiny();
        var useRsLora = rs.ToString().ToLowerInvariant();
        using var lora = MethodInstaller.Attach(new LoraMethod(), model,
            Options($$"""{"r": 4, "lora_alpha": 16, "use_rslora": {{useRsLora}}, "target_modules": "h\\.0\\.attn\\.c_attn"}"""));
        Assert.Equal(2, lora.Trainable.Count);   // a regex string picks exactly one module
        Perturb(lora);
        var layer = (LoraLinear)model.GetModule("h.0.attn.c_attn");
        using var _ = torch.no_grad();
        var x = torch.randn(3, 32);
        var expected = layer.Base.forward(x) + x.matmul(layer.A.t()).matmul(layer.B.t()) * scaling;
        Assert.True(layer.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Only_A_and_B_receive_gradients()
    {
        using var model = Tiny();
        using var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("{}"));
        model.train();
        model.LanguageModelLoss(Ids, Ids).backward();
        var layer = (LoraLinear)model.GetModule("h.1.attn.c_attn");
        Assert.NotNull(layer.A.grad);
        Assert.Null(layer.Base.weight!.grad);
        Assert.Null(model.TokenEmbedding.weight!.grad);
    }

    [Fact]
    public void Adapter_files_use_PEFTs_layout_and_reload_identically()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using (var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 4}""")))
        {
            Perturb(lora);
            var adapted = Logits(model);
            lora.Save(dir.Path);
            var (entries, _, _) = Safetensors.ReadHeader(dir["adapter_model.safetensors"]);
            Assert.Equal(new long[] { 4, 32 }, entries["base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"].Shape);   // [r, in]
            Assert.Equal(new long[] { 96, 4 }, entries["base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"].Shape);  // [out, r]
            Assert.Equal(4, entries.Count);
            var config = JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement;
            Assert.Equal("LORA", config.GetProperty("peft_type").GetString());
            Assert.Equal(4, config.GetProperty("r").GetInt32());
            Assert.Equal("transformer.h.0.attn.c_attn", config.GetProperty("target_modules")[0].GetString());

            using var fresh = Tiny();
            using (var reloaded = MethodInstaller.Attach(new LoraMethod(), fresh, Options("""{"r": 4}""")))
            {
                reloaded.Load(dir.Path);
                Assert.True(adapted.allclose(Logits(fresh), rtol: 0, atol: 0));
            }
            // Another scale would multiply the saved B·A differently: refused by name, not loaded wrong.
            using var otherScale = MethodInstaller.Attach(new LoraMethod(), fresh, Options("""{"r": 4, "lora_alpha": 8}"""));
            Assert.Contains("lora_alpha", Assert.Throws<CheckpointException>(() => otherScale.Load(dir.Path)).Message);
        }
        Assert.True(Logits(Tiny()).allclose(Logits(model), rtol: 0, atol: 0));   // detached: the base model again
    }

    [Fact]
    public void Unknown_target_lists_the_valid_ones()
    {
        using var model = Tiny();
        var e = Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach(new LoraMethod(), model, Options("""{"target_modules": ["q_proj"]}""")));
        Assert.Contains("method.options.target_modules", e.Message);
        Assert.Contains("attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj", e.Message);
        Assert.Throws<OptionsException>(() => MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 0}""")));
        Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach(new LoraMethod(), model, Options("""{"rank": 8}""")));   // unknown field, not a silent default
    }
}
