using PluginGpt.Core.Training;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Two processes that run the same computation log the same step losses, up to the last bits of a GEMM: MKL's
/// reproducible mode (MKL_CBWR=AUTO) gives the same bits for the same buffer alignment, and two processes may align their buffers
/// differently. CI runs under load logged differences from 3e-7 to 1.07e-5 relative (bf16); a real fault
/// (a layer recomputed from other inputs, a step skipped, another seed) moves the losses far more.</summary>
static class StepLosses
{
    const double RelativeTolerance = 1e-4;

    public static void AssertSame(IReadOnlyList<MetricsLine> expected, IReadOnlyList<MetricsLine> actual)
    {
        Assert.Equal(expected.Select(l => l.Step), actual.Select(l => l.Step));
        foreach (var (a, b) in expected.Zip(actual))
        {
            if (a.Loss is { } loss) Assert.Equal(loss, b.Loss!.Value, Math.Abs(loss) * RelativeTolerance);
            Assert.Equal(a.Parts?.Keys, b.Parts?.Keys);
            foreach (var (term, value) in a.Parts ?? new Dictionary<string, double>())
                Assert.Equal(value, b.Parts![term], Math.Abs(value) * RelativeTolerance);
        }
    }
}
