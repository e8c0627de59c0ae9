using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Core.Tests;

/// <summary>The forward pass's adds go through a Scalar no collection frees (see <see cref="KeptScalars"/>).</summary>
public class KeptScalarsTests
{
    [Fact]
    public void Adds_exactly_as_the_operator_and_its_alpha_outlives_collections()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var a = torch.randn(4, 8);
        var b = torch.randn(4, 8);
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.Equal(1.0, KeptScalars.One.ToDouble());
            Assert.Equal(0f, (KeptScalars.Add(a, b) - (a + b)).abs().max().item<float>());
        }
    }
}
