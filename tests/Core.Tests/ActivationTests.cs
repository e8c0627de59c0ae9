using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>Each <c>activation_function</c> the MLP (and <c>bench profile</c>) runs, against its closed form at a few points.</summary>
public class ActivationTests
{
    static readonly double[] Points = [-2.0, -0.5, 0.0, 1.0, 3.0];

    static double Erf(double x)
    {
        // .NET has no erf; Simpson's rule on exp(-t²) is exact to ~1e-15 at these points (the activations differ by ~1e-4).
        int n = 20_000;
        double h = x / n, sum = 0;
        for (int i = 0; i <= n; i++)
        {
            double t = i * h, w = i == 0 || i == n ? 1 : i % 2 == 1 ? 4 : 2;
            sum += w * Math.Exp(-t * t);
        }
        return 2 / Math.Sqrt(Math.PI) * sum * h / 3;
    }

    [Theory]
    [InlineData("gelu")]
    [InlineData("gelu_new")]
    [InlineData("silu")]
    [InlineData("relu")]
    public void Each_activation_matches_its_closed_form(string activation)
    {
        using var scope = NewDisposeScope();
        Func<double, double> expected = activation switch
        {
            "gelu" => x => 0.5 * x * (1 + Erf(x / Math.Sqrt(2))),
            "gelu_new" => x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
            "silu" => x => x / (1 + Math.Exp(-x)),
            _ => x => Math.Max(0, x),
        };
        var got = Mlp.Activate(activation, tensor(Points, dtype: ScalarType.Float64)).data<double>().ToArray();
        for (int i = 0; i < Points.Length; i++) Assert.Equal(expected(Points[i]), got[i], 1e-9);
    }
}
