using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Lycoris;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>LoHa and LoKr against PEFT's counts, factor shapes, keys and formulas.</summary>
public class LycorisTests
{
    static Decoder Tiny() => TinyModel.Create(8);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    static long Trainable(GptConfig config, IAdaptationMethod method)
    {
        using var model = new Decoder(config, torch.META);
        using var attached = MethodInstaller.Attach(method, model, default);
        return ParameterReport.Of(model.named_parameters()).Trainable;
    }

    [Fact]
    public void Counts_follow_from_PEFTs_defaults_on_GPT2_and_Llama()
    {
        // PEFT ≥ 0.17 defaults LoHa and LoKr to LoRA's targets (c_attn; Llama q_proj, v_proj), r = 8. PEFT itself refuses
        // GPT-2's Conv1D layers for both; PluginGpt's GPT-2 layers are Linear [out, in], so the counts are PEFT's for a
        // Linear(768 → 2,304).
        // LoHa: four factors, 2·r·(out + in) per layer: GPT-2 2·8·(2,304 + 768) = 49,152 × 12 = 589,824.
        Assert.Equal(589_824, Trainable(Presets.Gpt2Small, new LohaMethod()));
        // llama-small (d = 192, 6 query heads over 2 key-value heads of 32): q_proj 192 → 192, v_proj 192 → 64, 4 layers:
        // 2·8·(192 + 192) + 2·8·(64 + 192) = 6,144 + 4,096 = 10,240 × 4 = 40,960.
        Assert.Equal(40_960, Trainable(Presets.LlamaSmall, new LohaMethod()));
        // LoKr: in 768 → (24, 32), out 2,304 → (48, 48); W1 [48, 24] full (decompose_both off) = 1,152; r = 8 < max(48, 32)/2
        // = 24, so W2 is W2a [48, 8] + W2b [8, 32] = 640. 1,792 × 12 = 21,504.
        Assert.Equal(21_504, Trainable(Presets.Gpt2Small, new LokrMethod()));
        // llama-small: q_proj in 192 → (12, 16), out 192 → (12, 16): W1 [12, 12] = 144; r = 8 is not < max(16, 16)/2 = 8, so
        // W2 [16, 16] = 256 is full. v_proj out 64 → (8, 8): W1 [8, 12] = 96, W2 [8, 16] = 128 (8 is not < 8). (400 + 224) × 4.
        Assert.Equal(2_496, Trainable(Presets.LlamaSmall, new LokrMethod()));
    }

    [Theory]
    [InlineData(768, -1, 24, 32)]
    [InlineData(2304, -1, 48, 48)]
    [InlineData(3072, -1, 48, 64)]
    [InlineData(64, -1, 8, 8)]
    [InlineData(96, -1, 8, 12)]
    [InlineData(13, -1, 1, 13)]      // a prime stays (1, n)
    [InlineData(768, 16, 16, 48)]    // a factor that divides is taken as it is
    [InlineData(768, 7, 6, 128)]     // one that does not divides nothing: divisors grow up to it
    public void Factorization_is_PEFTs(long dimension, long factor, long m, long n) =>
        Assert.Equal((m, n), LokrLinear.Factorization(dimension, factor));

    [Fact]
    public void LoHa_is_the_Hadamard_product_of_two_low_rank_products_and_merges_exactly()
    {
        using var model = Tiny();
        var before = Logits(model);
        using var loha = MethodInstaller.Attach(new LohaMethod(), model, Options("""{"r": 4, "alpha": 8}"""));
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));   // hada_w2_b = 0
        var names = loha.Trainable.Where(p => p.Name.Contains("h.0.")).Select(p => p.Name.Split('.')[^1]).ToArray();
        Assert.Equal(["hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"], names);
        using (torch.no_grad()) foreach (var (_, p) in loha.Trainable) p.copy_(torch.randn_like(p) * 0.2);
        var f = loha.Trainable.Where(p => p.Name.Contains("h.0.")).Select(p => p.Parameter).ToArray();
        var layer = (LohaLinear)model.GetModule("h.0.attn.c_attn");
        var x = torch.randn(3, 32);
        using (torch.no_grad())
        {
            var delta = f[0].matmul(f[1]) * f[2].matmul(f[3]) * 2.0;   // α/r = 8/4
            Assert.True(layer.Delta().allclose(delta, rtol: 1e-5, atol: 1e-6));
            Assert.True(layer.forward(x).allclose(layer.Base.forward(x) + x.matmul(delta.t()), rtol: 1e-5, atol: 1e-5));
        }
        TinyModel.AssertMergeKeepsLogits(model, loha);
    }

    [Fact]
    public void LoKr_is_a_scaled_Kronecker_product_with_PEFTs_initialisation()
    {
        using var model = Tiny();
        var before = Logits(model);
        // c_attn 32 → 96: in (4, 8), out (8, 12); r = 2 < max(12, 8)/2 = 6 decomposes W2, and with decompose_both
        // r = 2 < max(8, 4)/2 = 4 decomposes W1 too.
        using var lokr = MethodInstaller.Attach(new LokrMethod(), model, Options("""{"r": 2, "alpha": 4, "decompose_both": true}"""));
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));   // lokr_w1_a = 0
        var factors = lokr.Trainable.Where(p => p.Name.Contains("h.0.")).ToDictionary(p => p.Name.Split('.')[^1], p => p.Parameter);
        Assert.Equal(["lokr_w1_a", "lokr_w1_b", "lokr_w2_a", "lokr_w2_b"], factors.Keys);
        Assert.Equal([8L, 2], factors["lokr_w1_a"].shape);
        Assert.Equal([2L, 4], factors["lokr_w1_b"].shape);
        Assert.Equal([12L, 2], factors["lokr_w2_a"].shape);
        Assert.Equal([2L, 8], factors["lokr_w2_b"].shape);
        Assert.Equal(0f, factors["lokr_w1_a"].abs().sum().item<float>());
        using (torch.no_grad()) foreach (var (_, p) in lokr.Trainable) p.copy_(torch.randn_like(p) * 0.2);
        var layer = (LokrLinear)model.GetModule("h.0.attn.c_attn");
        using (torch.no_grad())
        {
            var w1 = factors["lokr_w1_a"].matmul(factors["lokr_w1_b"]);
            var w2 = factors["lokr_w2_a"].matmul(factors["lokr_w2_b"]);
            var delta = torch.kron(w1, w2) * 2.0;   // α/r = 4/2; [8·12, 4·8] = [96, 32]
            Assert.True(layer.Delta().allclose(delta, rtol: 1e-5, atol: 1e-6));
        }
        TinyModel.AssertMergeKeepsLogits(model, lokr);
    }

    [Fact]
    public void Adapter_files_use_PEFTs_keys_and_an_adapter_of_another_type_is_refused()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using var lokr = MethodInstaller.Attach(new LokrMethod(), model, default);
        using (torch.no_grad()) foreach (var (_, p) in lokr.Trainable) p.copy_(torch.randn_like(p) * 0.2);
        var adapted = Logits(model);
        lokr.Save(dir.Path);
        var (entries, _, _) = Safetensors.ReadHeader(dir["adapter_model.safetensors"]);
        Assert.Equal(new long[] { 8, 4 }, entries["base_model.model.transformer.h.1.attn.c_attn.lokr_w1"].Shape);
        Assert.Equal(new long[] { 12, 8 }, entries["base_model.model.transformer.h.1.attn.c_attn.lokr_w2"].Shape);
        var config = JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement;
        Assert.Equal("LOKR", config.GetProperty("peft_type").GetString());
        Assert.Equal(-1, config.GetProperty("decompose_factor").GetInt32());

        using var fresh = Tiny();
        using (var reloaded = MethodInstaller.Attach(new LokrMethod(), fresh, default))
        {
            reloaded.Load(dir.Path);
            Assert.True(adapted.allclose(Logits(fresh), rtol: 0, atol: 0));
        }
        using (var loha = MethodInstaller.Attach(new LohaMethod(), fresh, default))
            Assert.Contains("LOKR", Assert.Throws<CheckpointException>(() => loha.Load(dir.Path)).Message);
        // The scale α/r multiplies the saved factors: another alpha would load silently wrong.
        using var otherAlpha = MethodInstaller.Attach(new LokrMethod(), fresh, JsonDocument.Parse("""{"alpha": 16}""").RootElement);
        Assert.Contains("alpha = 8, this experiment 16", Assert.Throws<CheckpointException>(() => otherAlpha.Load(dir.Path)).Message);
    }

    [Fact]
    public void LoKr_reads_its_factors_from_the_module_so_they_follow_a_move_to_another_dtype()
    {
        using var layer = new LokrLinear(torch.nn.Linear(8, 12), new LokrOptions { R = 2 });
        layer.to(ScalarType.Float64);
        Assert.All(layer.Named, f => Assert.Equal(ScalarType.Float64, f.Parameter.dtype));
        Assert.Equal(layer.named_parameters(recurse: false).Select(p => p.parameter.Handle), layer.Named.Select(f => f.Parameter.Handle));
        using var y = layer.call(torch.ones(3, 8, dtype: ScalarType.Float64));
        Assert.Equal(ScalarType.Float64, y.dtype);
    }
}
