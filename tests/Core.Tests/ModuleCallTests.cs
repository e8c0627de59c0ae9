using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Tests;

/// <summary>The core model calls its child modules as TorchSharp modules (<c>call</c>), so TorchSharp's own forward hooks fire on
/// them — a standard way to read or change an activation without a hook point of ours.</summary>
public class ModuleCallTests
{
    [Theory]
    [InlineData("gpt2", "h.0.mlp.c_fc", "ln_f", "h.1.attn")]
    [InlineData("llama", "layers.1.self_attn.q_proj", "norm", "layers.0.mlp")]
    public void Forward_hooks_on_core_modules_fire_and_their_outputs_flow_on(string family, string linearPath, string finalNorm,
        string subLayerPath)
    {
        torch.manual_seed(5);
        var config = family == "gpt2" ? Presets.Tiny : Presets.LlamaTiny;
        using var model = new Decoder(config);
        model.eval();
        using var ids = torch.randint(0, config.Vocab, [2, 8]);
        using var plain = model.Forward(ids);

        var linear = model.GetModule(linearPath);
        var norm = (Module<Tensor, Tensor>)model.named_modules().Single(m => m.name == finalNorm).module;
        int linearCalls = 0, subLayerCalls = 0;
        var counted = linear.register_forward_hook((_, _, output) => { linearCalls++; return output; });
        var sublayer = model.GetModule(subLayerPath).register_forward_hook((_, _, output) => { subLayerCalls++; return output; });
        var shifted = norm.register_forward_hook((_, _, output) => output + 1);
        using var hooked = model.Forward(ids);

        Assert.Equal(1, linearCalls);
        Assert.Equal(1, subLayerCalls);
        Assert.True(torch.allclose(hooked, plain + 1, rtol: 0, atol: 1e-5));
        counted.remove();
        sublayer.remove();
        shifted.remove();
        using var after = model.Forward(ids);
        Assert.Equal(1, linearCalls);
        Assert.True(torch.allclose(after, plain, rtol: 0, atol: 0));
    }
}
