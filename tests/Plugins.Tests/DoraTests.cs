using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.LoRA;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>DoRA (<c>dora</c>, or <c>lora</c> with <c>use_dora</c>) against PEFT's counts, keys and formulas.</summary>
public class DoraTests
{
    static Decoder Tiny() => TinyModel.Create(5);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    /// <summary>Random B and magnitudes, as training would leave them, so the update and the rescaling are not the identity.</summary>
    static void Perturb(IAttachedMethod dora)
    {
        using var _ = torch.no_grad();
        foreach (var (name, p) in dora.Trainable)
            if (name.Contains("lora_B")) p.copy_(torch.randn_like(p) * 0.1);
            else if (name.EndsWith("lora_magnitude_vector")) p.mul_(1 + torch.rand_like(p));
    }

    [Fact]
    public void GPT2_small_counts_are_LoRAs_plus_one_magnitude_per_output_feature()
    {
        // PEFT, LoraConfig(r=8, use_dora=True) on GPT-2's default target c_attn (768 → 2,304), 12 layers:
        // LoRA's A [8, 768] + B [2,304, 8] = 24,576 per layer → 294,912, plus lora_magnitude_vector [2,304] per layer → 27,648.
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var dora = MethodInstaller.Attach(new DoraMethod(), model, Options("""{"r": 8}"""));
        var report = ParameterReport.Of(model.named_parameters());
        Assert.Equal(294_912 + 27_648, report.Trainable);
        Assert.Equal(124_439_808 + 322_560, report.Total);
        Assert.Equal(36, dora.Trainable.Count);
        Assert.Equal([2304L],
            dora.Trainable.Single(p => p.Name == "base_model.model.transformer.h.3.attn.c_attn.lora_magnitude_vector").Parameter.shape);
    }

    [Fact]
    public void Forward_is_the_normalised_direction_times_the_magnitude_and_merges_exactly()
    {
        using var model = Tiny();
        var before = Logits(model);
        using var dora = MethodInstaller.Attach(new LoraMethod(), model,
            Options("""{"r": 4, "lora_alpha": 8, "use_dora": true, "target_modules": ["c_attn", "mlp.c_fc"]}"""));
        Assert.True(before.allclose(Logits(model), rtol: 1e-5, atol: 1e-6));   // m = ‖W‖ and B = 0: the base model
        Perturb(dora);
        var layer = (DoraLinear)model.GetModule("h.0.attn.c_attn");
        var x = torch.randn(3, 32);
        using (torch.no_grad())
        {
            var direction = layer.Base.weight! + layer.B.matmul(layer.A) * 2.0;   // W + (α/r)·B·A
            var norm = direction.pow(2).sum(1).sqrt();
            var expected = x.matmul((direction * (layer.Magnitude / norm).unsqueeze(1)).t()) + layer.Base.bias!;
            Assert.True(layer.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-5));
        }

        var baseWeight = layer.Base.weight!.clone();
        var unmerged = Logits(model);
        dora.Merge();
        Assert.True(unmerged.allclose(Logits(model), rtol: 1e-4, atol: 1e-5));
        dora.Unmerge();
        Assert.True(layer.Base.weight!.allclose(baseWeight, rtol: 0, atol: 1e-5));
        Assert.True(unmerged.allclose(Logits(model), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void The_norm_is_detached_so_the_magnitudes_gradient_is_the_direction_output_over_the_norm()
    {
        using var model = Tiny();
        using var dora = MethodInstaller.Attach(new DoraMethod(), model, Options("""{"r": 4}"""));
        Perturb(dora);
        var layer = (DoraLinear)model.GetModule("h.0.attn.c_attn");
        foreach (var (_, p) in dora.Trainable) p.requires_grad_(true);
        var x = torch.randn(3, 32);
        layer.forward(x).sum().backward();
        using var _ = torch.no_grad();
        var direction = layer.Base.weight! + layer.B.matmul(layer.A) * 4.0;   // α/r = 16/4
        var norm = direction.pow(2).sum(1).sqrt();
        // d/dm_j Σ y = Σ_batch (direction·x)_j / ‖direction_j‖ when the norm is a constant (PEFT detaches it).
        var expected = x.matmul(direction.t()).sum(dim: 0) / norm;   // dim named: a literal 0 would bind to the dtype overload
        Assert.True(layer.Magnitude.grad!.allclose(expected, rtol: 1e-4, atol: 1e-5));
        Assert.Null(layer.Base.weight!.grad);
    }

    [Fact]
    public void Adapter_files_are_PEFTs_LoRA_with_use_dora_and_a_LoRA_attachment_refuses_them()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using var dora = MethodInstaller.Attach(new DoraMethod(), model, Options("""{"r": 4}"""));
        Perturb(dora);
        var adapted = Logits(model);
        dora.Save(dir.Path);
        var (entries, _, _) = Safetensors.ReadHeader(dir["adapter_model.safetensors"]);
        Assert.Equal(new long[] { 96 }, entries["base_model.model.transformer.h.1.attn.c_attn.lora_magnitude_vector"].Shape);
        Assert.Equal(6, entries.Count);
        var config = JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement;
        Assert.Equal("LORA", config.GetProperty("peft_type").GetString());
        Assert.True(config.GetProperty("use_dora").GetBoolean());

        using var fresh = Tiny();
        using (var reloaded = MethodInstaller.Attach(new LoraMethod(), fresh, Options("""{"r": 4, "use_dora": true}""")))
        {
            reloaded.Load(dir.Path);
            Assert.True(adapted.allclose(Logits(fresh), rtol: 0, atol: 0));
        }
        using var plain = MethodInstaller.Attach(new LoraMethod(), fresh, Options("""{"r": 4}"""));
        Assert.Contains("use_dora", Assert.Throws<CheckpointException>(() => plain.Load(dir.Path)).Message);
        using var other = Tiny();
        var refused = Assert.Throws<OptionsException>(
            () => MethodInstaller.Attach(new DoraMethod(), other, Options("""{"use_dora": false}""")));
        Assert.Contains("method.options.use_dora", refused.Message);
    }
}
