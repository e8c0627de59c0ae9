using System.Text.Json;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>The tiny decoder, options and inputs the method tests share.</summary>
public static class TinyModel
{
    public static Decoder Create(int seed) { torch.manual_seed(seed); var m = new Decoder(Presets.Tiny); m.eval(); return m; }
    public static JsonElement Options(string json) => JsonDocument.Parse(json).RootElement;
    public static readonly Tensor Ids = torch.tensor(new long[] { 5, 17, 300, 42, 7, 99, 256, 1 }).view(2, 4);
    public static Tensor Logits(Decoder m) { using var _ = torch.no_grad(); return m.Logits(Ids); }

    /// <summary>Merging keeps the logits (within fp32 rounding of the folded weights) and unmerging gives them back.</summary>
    public static void AssertMergeKeepsLogits(Decoder model, IAttachedMethod attached)
    {
        var unmerged = Logits(model);
        attached.Merge();
        Xunit.Assert.True(unmerged.allclose(Logits(model), rtol: 1e-4, atol: 1e-5), "merged logits differ");
        attached.Unmerge();
        Xunit.Assert.True(unmerged.allclose(Logits(model), rtol: 1e-5, atol: 1e-5), "unmerged logits differ");
    }
}
