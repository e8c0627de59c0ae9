using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>
/// Adds through a Scalar that lives as long as the process. TorchSharp's <c>a + b</c> passes a temporary <c>Scalar</c> (the alpha
/// 1) whose handle nothing keeps alive during the native call: a garbage collection there can finalize it while LibTorch still
/// reads it, which fails as "Expected false to be true … Scalar.h" in <c>add</c> (twice in one PET study scoring a 10,000-row
/// pool, both inside a block). The forward pass's hot adds go through <see cref="Add"/>.
/// </summary>
public static class KeptScalars
{
    /// <summary>The alpha of every add here.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>a + b, as <c>a + b</c> computes it.</summary>
    public static Tensor Add(Tensor a, Tensor b) => a.add(b, One);
}
