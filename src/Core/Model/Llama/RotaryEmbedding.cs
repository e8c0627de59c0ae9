using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model.Llama;

/// <summary>
/// Rotary position embeddings (Su et al. 2021) in Hugging Face's <c>rotate_half</c> layout: dimension i of a head pairs with
/// i + D/2 (Meta's and llama2.c's files pair neighbours; the converter permutes q/k rows into this layout).
/// </summary>
internal static class RotaryEmbedding
{
    /// <summary>cos and sin [T, D] for <paramref name="positions"/> [T], in fp32 as Hugging Face computes them.</summary>
    public static (Tensor Cos, Tensor Sin) Table(Tensor positions, int headDim, double theta)
    {
        var exponents = torch.arange(0, headDim, 2, ScalarType.Int64, positions.device).to(ScalarType.Float32) / headDim;
        var inverseFrequency = torch.pow(theta, exponents).reciprocal();
        var angles = torch.outer(positions.to(ScalarType.Float32), inverseFrequency);   // [T, D/2]
        var both = torch.cat([angles, angles], -1);                                      // [T, D]
        return (both.cos(), both.sin());
    }

    /// <summary>Rotates queries or keys [B, H, T, D] by the table of their positions.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var rotated = torch.cat([-x[.., .., .., (int)half..], x[.., .., .., ..(int)half]], -1);
        return KeptScalars.Add(x * cos.to(x.dtype), rotated * sin.to(x.dtype));
    }
}
