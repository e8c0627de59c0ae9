using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Tests;

/// <summary>Each hook point changes the output when used and changes nothing when absent; all agree with the KV cache.</summary>
#pragma warning disable CS0618 // hook point 4 and ReplaceLinear are obsolete since SDK 2.9 and tested here to keep working
public class HookTests
{
    sealed class Shifted(Module<Tensor, Tensor> inner, float shift) : nn.Module<Tensor, Tensor>("Shifted")
    {
        readonly Module<Tensor, Tensor> inner = inner;
        public override Tensor forward(Tensor x) => inner.forward(x) + shift;
    }

    sealed class PrependVirtualTokens(Tensor virtualTokens) : IInputEmbeddingHook
    {
        public int VirtualTokens => (int)virtualTokens.shape[1];
        public Tensor Apply(Tensor e, Tensor ids) => torch.cat([virtualTokens.expand(e.shape[0], -1, -1), e], 1);
    }

    sealed class FixedPrefix(Tensor keys, Tensor values) : IKeyValuePrefixProvider
    {
        public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batch) =>
            (keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1));
    }

    sealed class Scaled : ModuleWrapper
    {
        readonly float factor;
        public Scaled(Module<Tensor, Tensor> inner, float factor) : base(nameof(Scaled), inner)
        {
            this.factor = factor;
            RegisterComponents();
        }
        public override Tensor forward(Tensor x) => WrappedForward(x) * factor;
    }

    sealed class ScaleSublayers(float attention, float mlp) : IBlockOutputHook
    {
        public Tensor AfterAttention(int layer, Tensor output) => output * attention;
        public Tensor AfterMlp(int layer, Tensor output) => output * mlp;
    }

    readonly Decoder model;
    readonly Tensor ids;

    public HookTests()
    {
        torch.manual_seed(11);
        model = new Decoder(Presets.Tiny);
        model.eval();
        ids = torch.randint(0, Presets.Tiny.Vocab, [2, 10]);
    }

    Tensor Logits() { using var _ = torch.no_grad(); return model.Logits(ids); }

    Tensor CachedLogits()
    {
        using var _ = torch.no_grad();
        using var cache = new KvCache(model.Config.Layers);
        return torch.cat([model.Logits(ids[.., ..4], cache), model.Logits(ids[.., 4..5], cache), model.Logits(ids[.., 5..], cache)], 1);
    }

    static void Same(Tensor a, Tensor b) =>
        Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-5), $"max diff {(a - b).abs().max().item<float>()}");
    static void Different(Tensor a, Tensor b) => Assert.True((a - b).abs().max().item<float>() > 1e-3);

    [Fact]
    public void Named_module_replacement()
    {
        var baseline = Logits();
        model.ReplaceModule("h.1.mlp.c_fc", inner => new Shifted(inner, 0f));
        Same(baseline, Logits());
        var shifted = model.GetModule("h.1.mlp.c_fc");
        model.ReplaceLinear("h.1.mlp.c_fc", inner => new Shifted(inner, 0.5f));   // the obsolete name does the same
        Different(baseline, Logits());
        Assert.Contains(model.named_parameters(), p => p.name.StartsWith("h.1.mlp.c_fc."));   // wrapped weights stay reachable by path
        Same(Logits(), CachedLogits());
        Assert.NotNull(shifted);
    }

    [Fact]
    public void Input_embedding_hook()
    {
        var baseline = Logits();
        torch.manual_seed(5);
        model.InputEmbeddingHook = new PrependVirtualTokens(torch.randn(1, 3, Presets.Tiny.ModelDim));
        var hooked = Logits();
        Assert.Equal(baseline.shape, hooked.shape);   // virtual tokens are dropped from the output
        Different(baseline, hooked);
        Same(hooked, CachedLogits());
        model.InputEmbeddingHook = null;
        Same(baseline, Logits());
    }

    [Fact]
    public void Key_value_prefix()
    {
        var baseline = Logits();
        torch.manual_seed(6);
        var shape = new long[] { 1, Presets.Tiny.Heads, 4, Presets.Tiny.HeadDim };
        model.KeyValuePrefix = new FixedPrefix(torch.randn(shape), torch.randn(shape));
        var hooked = Logits();
        Different(baseline, hooked);
        Same(hooked, CachedLogits());
        model.KeyValuePrefix = null;
        Same(baseline, Logits());
    }

    [Fact]
    public void Block_output_hook()
    {
        var baseline = Logits();
        model.BlockOutputHook = new ScaleSublayers(1f, 1f);
        Same(baseline, Logits());
        model.BlockOutputHook = new ScaleSublayers(1f, 0.5f);
        Different(baseline, Logits());
        Same(Logits(), CachedLogits());
        model.BlockOutputHook = null;
        Same(baseline, Logits());
    }

    [Fact]
    public void Wrapped_sub_layers_give_what_the_block_output_hook_gave_and_unwrap_to_the_base()
    {
        var baseline = Logits();
        model.BlockOutputHook = new ScaleSublayers(0.75f, 0.5f);
        var hooked = Logits();
        model.BlockOutputHook = null;

        var paths = Enumerable.Range(0, model.Config.Layers)
            .SelectMany(i => new[]
            {
                (model.SubLayerPath(i, SubLayer.Attention), 0.75f), (model.SubLayerPath(i, SubLayer.FeedForward), 0.5f),
            })
            .ToDictionary();
        Assert.Equal(["h.0.attn", "h.0.mlp", "h.1.attn", "h.1.mlp"], paths.Keys);
        var wrapped = ModuleWrapper.WrapAll(model, paths.Keys, (path, inner) => new Scaled(inner, paths[path]));
        Assert.Equal(0, (Logits() - hooked).abs().max().item<float>());   // the same computation, bit for bit
        Same(Logits(), CachedLogits());
        // A Linear's path still reaches the Linear inside its wrapped sub-layer, and can be wrapped there too.
        Assert.IsType<TorchSharp.Modules.Linear>(model.GetModule("h.0.attn.c_attn"));
        Assert.IsType<Scaled>(model.GetModule("h.0.attn"));
        Assert.Contains(model.named_parameters(), p => p.name == "h.0.attn.base_layer.c_attn.weight");
        model.ReplaceModule("h.0.attn.c_attn", inner => new Shifted(inner, 0.5f));
        Different(hooked, Logits());
        model.ReplaceModule("h.0.attn.c_attn", shifted => ((Shifted)shifted).named_children().Single().module as Module<Tensor, Tensor>
            ?? throw new InvalidOperationException());

        ModuleWrapper.UnwrapAll(model, wrapped);
        Assert.Equal(0, (Logits() - baseline).abs().max().item<float>());
        Assert.IsType<CausalSelfAttention>(model.GetModule("h.0.attn"));
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("base_layer"));
    }

    [Fact]
    public void Module_paths_list_each_sub_layer_then_its_linears_and_unknown_paths_are_refused()
    {
        Assert.Equal(["h.0.attn", "h.0.attn.c_attn", "h.0.attn.c_proj", "h.0.mlp", "h.0.mlp.c_fc", "h.0.mlp.c_proj"],
            model.ModulePaths().Take(6));
        Assert.Equal(model.LinearPaths(), model.ModulePaths().Where(p => p.Split('.').Length == 4));
        foreach (var bad in new[] { "h.2.mlp", "h.0.ln_1", "h.0.attn.c_fc", "h.0" })
            Assert.Contains("unknown module", Assert.Throws<OptionsException>(() => model.GetModule(bad)).Message);
    }
}
