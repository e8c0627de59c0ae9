using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Adapters;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

public class AdapterTests
{
    static Decoder Tiny() => TinyModel.Create(8);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Ids => TinyModel.Ids;
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    [Theory]
    [InlineData("pfeiffer", 894_528)]    // 12 × (768·48 + 48 + 48·768 + 768)
    [InlineData("houlsby", 1_789_056)]   // twice as many: after attention and after the MLP
    public void GPT2_small_counts_equal_AdapterHubs(string config, long trainable)
    {
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var adapters = MethodInstaller.Attach(new AdapterMethod(), model,
            Options($$"""{"config": "{{config}}", "reduction_factor": 16}"""));
        Assert.Equal(trainable, adapters.Trainable.Sum(p => p.Parameter.numel()));
        Assert.Equal(trainable,
            ParameterReport.Of(model.named_parameters().Concat(adapters.Trainable.Select(p => (p.Name, p.Parameter)))).Trainable);
    }

    [Fact]
    public void Fresh_adapters_change_nothing_trained_ones_do_and_detaching_restores_the_base()
    {
        using var model = Tiny();
        var before = Logits(model);
        var adapters = MethodInstaller.Attach(new AdapterMethod(), model, Options("""{"config": "houlsby", "reduction_factor": 4}"""));
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));
        using (torch.no_grad()) foreach (var (name, p) in adapters.Trainable) if (name.Contains(".up.")) p.copy_(torch.randn_like(p) * 0.1);
        Assert.False(before.allclose(Logits(model), rtol: 1e-4, atol: 1e-4));
        var own = adapters.Trainable.Select(p => p.Parameter.Handle).ToHashSet();
        Assert.All(model.parameters(),
            p => Assert.Equal(own.Contains(p.Handle), p.requires_grad));   // the body is frozen, the adapters train
        adapters.Dispose();
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));
    }

    [Fact]
    public void Saved_adapters_reload_to_identical_logits()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using var adapters = MethodInstaller.Attach(new AdapterMethod(), model, Options("{}"));
        using (torch.no_grad()) foreach (var (_, p) in adapters.Trainable) p.copy_(torch.randn_like(p) * 0.1);
        adapters.Save(dir.Path);
        using var fresh = Tiny();
        using var reloaded = MethodInstaller.Attach(new AdapterMethod(), fresh, Options("{}"));
        reloaded.Load(dir.Path);
        Assert.True(Logits(model).allclose(Logits(fresh), rtol: 0, atol: 0));
        Assert.Equal("relu",
            JsonDocument.Parse(File.ReadAllText(dir["adapter_config.json"])).RootElement.GetProperty("non_linearity").GetString());
    }

    [Fact]
    public void Bad_options_name_their_field()
    {
        using var model = Tiny();
        Assert.Contains("method.options.config", Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach(new AdapterMethod(), model, Options("""{"config": "lora"}"""))).Message);
        Assert.Contains("method.options.reduction_factor", Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach(new AdapterMethod(), model, Options("""{"reduction_factor": 5}"""))).Message);
    }
}
