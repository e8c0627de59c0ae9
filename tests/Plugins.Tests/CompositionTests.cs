using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Adapters;
using PluginGpt.Plugins.LoRA;
using PluginGpt.Plugins.PromptTuning;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>Several methods on one model (<c>method.with</c>): united trainable sets, one save and reload, hook points refused when
/// shared, undone in reverse order.</summary>
public class CompositionTests
{
    static Decoder Tiny() => TinyModel.Create(9);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    static MethodChoice Lora() => new(new LoraMethod(), Options("""{"r": 4}"""), "method");
    static MethodChoice Prefix() => new(new PrefixTuningMethod(), Options("""{"num_virtual_tokens": 3}"""), "method.with[0]");

    static void Perturb(IAttachedMethod attached)
    {
        using var _ = torch.no_grad();
        foreach (var (_, p) in attached.Trainable) p.add_(torch.randn_like(p) * 0.1);
    }

    [Fact]
    public void LoRA_with_prefix_tuning_trains_both_saves_as_one_run_and_reloads()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        var baseLogits = Logits(model);
        long alone;
        using (var lora = MethodInstaller.Attach(new LoraMethod(), model, Options("""{"r": 4}""")))
            alone = lora.Trainable.Sum(p => p.Parameter.numel());
        long prefixAlone;
        using (var prefix = MethodInstaller.Attach(new PrefixTuningMethod(), model, Options("""{"num_virtual_tokens": 3}""")))
            prefixAlone = prefix.Trainable.Sum(p => p.Parameter.numel());

        using (var both = MethodInstaller.Attach([Lora(), Prefix()], model))
        {
            Assert.Equal(alone + prefixAlone, both.Trainable.Sum(p => p.Parameter.numel()));
            Assert.Equal(alone + prefixAlone, ParameterReport.Of(model.named_parameters()).Trainable);   // exactly these train
            model.train();
            model.LanguageModelLoss(TinyModel.Ids, TinyModel.Ids).backward();
            Assert.All(both.Trainable, p => Assert.NotNull(p.Parameter.grad));   // both methods' tensors learn
            model.eval();
            Perturb(both);
            var adapted = Logits(model);
            both.Save(dir.Path);
            Assert.True(File.Exists(dir["adapter_model.safetensors"]));   // the first method where it would be alone
            Assert.True(File.Exists(Path.Combine(dir.Path, "with-1-prefix", "adapter_model.safetensors")));

            using var fresh = Tiny();
            using var reloaded = MethodInstaller.Attach([Lora(), Prefix()], fresh);
            reloaded.Load(dir.Path);
            Assert.True(adapted.allclose(Logits(fresh), rtol: 0, atol: 0));
            Assert.False(reloaded.CanMerge);   // prefix tuning cannot merge, so neither can the composition
        }
        Assert.True(baseLogits.allclose(Logits(model), rtol: 0, atol: 0));   // both undone
        Assert.Empty(model.AttachedModules);
    }

    [Fact]
    public void Mergeable_methods_merge_together_and_adapters_with_LoRA_compose_too()
    {
        using var model = Tiny();
        var lora = new MethodChoice(new LoraMethod(), Options("""{"r": 4, "target_modules": ["mlp.c_fc"]}"""), "method");
        var adapters = new MethodChoice(new AdapterMethod(), default, "method.with[0]");
        using var both = MethodInstaller.Attach([lora, adapters], model);
        Assert.Contains(both.Trainable, p => p.Name.Contains("lora_A"));
        Assert.Contains(both.Trainable, p => p.Name.Contains("adapter"));
        Assert.False(both.CanMerge);
    }

    [Fact]
    public void Two_methods_on_one_hook_point_or_an_undeclared_one_are_refused_before_either_attaches()
    {
        using var model = Tiny();
        var baseLogits = Logits(model);
        var e = Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach([Lora(), new MethodChoice(new DoraMethod(), default, "method.with[0]")], model));
        Assert.Equal("method.with[0]: methods 'lora' and 'dora' both use Linears; compose methods that use different hook points",
            e.Message);
        var undeclared = Assert.Throws<OptionsException>(() =>
            MethodInstaller.Attach([Lora(), new MethodChoice(new Undeclared(), default, "method.with[0]")], model));
        Assert.Contains("does not declare the hook points", undeclared.Message);
        Assert.True(baseLogits.allclose(Logits(model), rtol: 0, atol: 0));
        Assert.IsType<TorchSharp.Modules.Linear>(model.GetModule("h.0.attn.c_attn"));   // nothing was wrapped
    }

    [Fact]
    public void Methods_that_share_PEFT_names_compose_under_prefixed_names_and_full_fine_tuning_runs_alone()
    {
        using var model = Tiny();
        var prompt = new MethodChoice(new PromptTuningMethod(), Options("""{"num_virtual_tokens": 2}"""), "method");
        using (var both = MethodInstaller.Attach([prompt, Prefix()], model))
        {
            var names = both.Trainable.Select(p => p.Name).ToList();
            Assert.Equal(names.Count, names.Distinct().Count());
            Assert.Contains(names, n => n.StartsWith("with-1-prefix.", StringComparison.Ordinal));
        }
        var full = new MethodChoice(new PluginGpt.Plugins.Baselines.FullFineTuning(), default, "method.with[0]");
        var e = Assert.Throws<OptionsException>(() => MethodInstaller.Attach([Lora(), full], model));
        Assert.Contains("trains the body's own weights", e.Message);
    }

    /// <summary>A method written before SDK 2.6: it runs alone, but cannot be composed.</summary>
    sealed class Undeclared : IAdaptationMethod
    {
        public PluginManifest Manifest { get; } = new("undeclared", PluginKind.Method, "1.0.0", "declares no hook points");
        public IAttachedMethod Attach(IDecoder model, JsonElement options) => new TrainedParameters([]);
    }
}
