using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core;

/// <summary>This machine's matmul throughput, the denominator of MFU: a leaf that the training loops, the precision choice and
/// the benchmarks all read, so none of them depends on another for it.</summary>
public static class MatmulPeak
{
    public sealed record MatmulResult(int Size, double GFlops);

    /// <summary>Best GFLOP/s of an n×n by n×n matmul in <paramref name="dtype"/> (fp32 by default) over a few repeats.</summary>
    public static MatmulResult Measure(Device device, int size = 1024, int repeats = 10, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(size, size, device: device).to(dtype);
        var b = torch.randn(size, size, device: device).to(dtype);
        a.matmul(b);   // warm-up
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var w = Stopwatch.StartNew();
            using var c = a.matmul(b);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize();
            else c[0, 0].to(ScalarType.Float32).item<float>();
            best = Math.Min(best, w.Elapsed.TotalSeconds);
        }
        return new MatmulResult(size, 2.0 * size * size * size / best / 1e9);
    }

    /// <summary>The denominator of MFU: the best of a 512³ and a 1024³ matmul in <paramref name="dtype"/>. Which size runs
    /// fastest depends on the CPU and the type (bf16 on a 2-core AMD EPYC with AVX-512 BF16: 687 GFLOP/s at 512³, 350 at 1024³;
    /// fp32 the other way round), and a peak taken at the slower size would report more than the run's share of the machine.</summary>
    public static double UtilisationPeakGFlops(Device device, ScalarType dtype, int repeats = 3) =>
        Math.Max(Measure(device, 512, repeats, dtype).GFlops, Measure(device, 1024, repeats, dtype).GFlops);
}
