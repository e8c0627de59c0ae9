using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Tests;

/// <summary>Without gradients the decoder frees each block's intermediates as the block returns: TorchSharp frees a tensor when its
/// wrapper is disposed, and scoring passes that kept every block's intermediates until the caller's scope ended grew the process by
/// gigabytes (a text-to-text STS-B run: 6.1 → 1.8–2.2 GB).</summary>
public class InferenceMemoryTests
{
    /// <summary>Tensors a no-grad forward leaves alive in the caller's scope.</summary>
    static long LiveAfterForward(GptConfig config, Tensor ids)
    {
        torch.manual_seed(3);
        using var model = new Decoder(config);
        model.eval();
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        model.Forward(ids);
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
    }

    static GptConfig Config(string family) => family switch
    {
        "gpt2" => Presets.Tiny,
        "gpt1" => Presets.Tiny with { Norm = NormPlacement.Post },   // post-norm blocks: each sub-layer reads the block's input
        _ => Presets.LlamaTiny,
    };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("gpt1")]
    [InlineData("llama")]
    public void Each_further_block_leaves_exactly_its_output_alive_without_gradients(string family)
    {
        var config = Config(family);
        var ids = torch.randint(0, config.Vocab, [3, 12]);
        long two = LiveAfterForward(config with { Layers = 2 }, ids), four = LiveAfterForward(config with { Layers = 4 }, ids);
        // A block makes dozens of tensors (norms, projections, heads, attention, the MLP, residual adds); one is its output.
        Assert.Equal(2, four - two);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("gpt1")]
    [InlineData("llama")]
    public void A_forward_without_gradients_gives_the_forward_with_gradients_bit_for_bit(string family)
    {
        var config = Config(family);
        torch.manual_seed(5);
        using var model = new Decoder(config);
        model.eval();
        var ids = torch.randint(0, config.Vocab, [2, 9]);
        var padding = torch.tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0 }).view(2, 9);
        var withGradients = model.Forward(ids, keyPaddingMask: padding);
        Tensor without;
        using (torch.no_grad()) without = model.Forward(ids, keyPaddingMask: padding);
        Assert.True(withGradients.requires_grad);
        Assert.True(without.allclose(withGradients.detach(), rtol: 0, atol: 0));
    }

    /// <summary>Makes <paramref name="extra"/> throw-away tensors before the attention runs.</summary>
    sealed class Wasteful(Module<Tensor, Tensor> wrapped, int extra) : ModuleWrapper(nameof(Wasteful), wrapped)
    {
        public override Tensor forward(Tensor x)
        {
            for (int i = 0; i < extra; i++) _ = x * 1;
            return WrappedForward(x);
        }
    }

    /// <summary>Reads how many tensors are alive when the MLP starts.</summary>
    sealed class Counting(Module<Tensor, Tensor> wrapped, List<long> seen) : ModuleWrapper(nameof(Counting), wrapped)
    {
        public override Tensor forward(Tensor x)
        {
            seen.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            return WrappedForward(x);
        }
    }

    /// <summary>Tensors alive when block 0's MLP starts, after an attention that made <paramref name="extra"/> more.</summary>
    static long LiveWhenTheMlpStarts(int extra)
    {
        torch.manual_seed(3);
        using var model = new Decoder(Presets.LlamaTiny);
        model.eval();
        var seen = new List<long>();
        IDecoder decoder = model;
        decoder.ReplaceModule(decoder.SubLayerPath(0, SubLayer.Attention), inner => new Wasteful(inner, extra));
        decoder.ReplaceModule(decoder.SubLayerPath(0, SubLayer.FeedForward), inner => new Counting(inner, seen));
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        model.Forward(torch.randint(0, Presets.LlamaTiny.Vocab, [2, 7]));
        return seen.Single() - before;
    }

    [Fact]
    public void The_attention_sub_layer_s_intermediates_are_freed_before_the_mlp_runs()
    {
        Assert.Equal(LiveWhenTheMlpStarts(0), LiveWhenTheMlpStarts(10));
    }
}
