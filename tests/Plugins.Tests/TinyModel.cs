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
}
