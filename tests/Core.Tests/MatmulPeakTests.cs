using System.Diagnostics;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

public class MatmulPeakTests
{
    // fp64: a type no other code asks a peak for, so other tests running beside these leave its cache entry alone.

    [Fact]
    public void The_peak_is_measured_once_per_process_device_and_type()
    {
        double first = MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float64, repeats: 1);
        double second = MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float64, repeats: 1);
        Assert.True(first > 0);
        Assert.Equal(first, second);   // two measurements would differ in the last digits
        Assert.NotEqual(first, MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float32, repeats: 1));
    }

    [Fact]
    public void A_longer_time_floor_than_the_cached_peak_had_measures_again()
    {
        MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float64, repeats: 1);
        var watch = Stopwatch.StartNew();
        double longer = MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float64, repeats: 1, minSeconds: 0.4);
        Assert.True(watch.Elapsed.TotalSeconds >= 0.8, $"two sizes at 0.4 s each took {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(longer, MatmulPeak.UtilisationPeakGFlops(CPU, ScalarType.Float64, repeats: 1, minSeconds: 0.4));
    }

    [Fact]
    public void A_measurement_lasts_at_least_its_time_floor()
    {
        var watch = Stopwatch.StartNew();
        var result = MatmulPeak.Measure(CPU, size: 64, repeats: 1, minSeconds: 0.2);
        Assert.True(watch.Elapsed.TotalSeconds >= 0.2, $"took {watch.Elapsed.TotalSeconds:F3} s");
        Assert.Equal(64, result.Size);
        Assert.True(result.GFlops > 0);
    }
}
