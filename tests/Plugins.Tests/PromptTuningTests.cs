using System.Text.Json;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.PromptTuning;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

public class PromptTuningTests
{
    static Decoder Tiny() => TinyModel.Create(12);
    static JsonElement Options(string json) => TinyModel.Options(json);
    static Tensor Ids => TinyModel.Ids;
    static Tensor Logits(Decoder m) => TinyModel.Logits(m);

    public static TheoryData<string> Methods => new() { "prompt", "p-tuning", "prefix", "prefix-projection" };

    static IAdaptationMethod Method(string name) => name switch
    {
        "prompt" => new PromptTuningMethod(),
        "p-tuning" => new PTuningMethod(),
        _ => new PrefixTuningMethod(),
    };

    /// <summary>The options of a test case; "prefix-projection" is prefix tuning with its re-parameterisation.</summary>
    static JsonElement For(string method, int tokens) =>
        Options($$"""{"num_virtual_tokens": {{tokens}}{{(method == "prefix-projection" ? ", \"prefix_projection\": true" : "")}}}""");

    [Theory]
    [InlineData("prompt", 15_360)]       // 20 × 768
    [InlineData("p-tuning", 1_787_136)]  // 20 × 768 + 3 × (768 × 768 + 768)
    [InlineData("prefix", 368_640)]      // 20 × 12 layers × 2 × 768
    public void GPT2_small_counts_equal_PEFTs(string method, long trainable)
    {
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var attached = MethodInstaller.Attach(Method(method), model, Options("""{"num_virtual_tokens": 20}"""));
        Assert.Equal(trainable, attached.Trainable.Sum(p => p.Parameter.numel()));
    }

    [Fact]
    public void Prefix_projection_adds_PEFTs_two_layer_transform()
    {
        using var model = new Decoder(Presets.Gpt2Small, torch.META);
        using var attached = MethodInstaller.Attach(new PrefixTuningMethod(), model,
            Options("""{"num_virtual_tokens": 20, "prefix_projection": true}"""));
        // 20 × 768 embeddings + Linear(768, 768) + Linear(768, 12·2·768)
        Assert.Equal(20 * 768 + (768 * 768 + 768) + (768 * 18_432 + 18_432), attached.Trainable.Sum(p => p.Parameter.numel()));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Virtual_tokens_change_the_output_keep_its_shape_and_detach_cleanly(string method)
    {
        using var model = Tiny();
        var before = Logits(model);
        var attached = MethodInstaller.Attach(Method(method), model, For(method, 5));
        var after = Logits(model);
        Assert.Equal(before.shape, after.shape);
        Assert.False(before.allclose(after, rtol: 1e-4, atol: 1e-4));
        attached.Dispose();
        Assert.True(before.allclose(Logits(model), rtol: 0, atol: 0));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Generation_with_the_KV_cache_equals_full_recompute(string method)
    {
        using var model = Tiny();
        using var attached = MethodInstaller.Attach(Method(method), model, For(method, 4));
        int[] prompt = [3, 14, 15, 92];
        var cached = TokenGenerator.Generate(model, prompt, new GenerationOptions { Greedy = true, MaxNewTokens = 12 }).ToArray();
        var recomputed = TokenGenerator.Generate(model, prompt,
            new GenerationOptions { Greedy = true, MaxNewTokens = 12, UseKvCache = false }).ToArray();
        Assert.Equal(recomputed, cached);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Only_the_virtual_tokens_learn_and_they_reload_identically(string method)
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using var attached = MethodInstaller.Attach(Method(method), model, For(method, 3));
        model.train();
        model.LanguageModelLoss(Ids, Ids).backward();
        Assert.All(attached.Trainable, p => Assert.NotNull(p.Parameter.grad));
        var own = attached.Trainable.Select(p => p.Parameter.Handle).ToHashSet();
        Assert.All(model.parameters().Where(p => !own.Contains(p.Handle)),
            p => Assert.Null(p.grad));   // the body's (the method's modules are in the tree too)
        model.eval();
        using (torch.no_grad()) foreach (var (_, p) in attached.Trainable) p.add_(torch.randn_like(p) * 0.05);
        attached.Save(dir.Path);
        using var fresh = Tiny();
        using var reloaded = MethodInstaller.Attach(Method(method), fresh, For(method, 3));
        reloaded.Load(dir.Path);
        Assert.True(Logits(model).allclose(Logits(fresh), rtol: 0, atol: 0));
    }
}
