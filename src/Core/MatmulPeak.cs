using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core;

/// <summary>This machine's matmul throughput, the denominator of MFU: a leaf that the training loops, the precision choice and
/// the benchmarks all read, so none of them depends on another for it.</summary>
public static class MatmulPeak
{
    public sealed record MatmulResult(int Size, double GFlops);

    /// <summary>Best GFLOP/s of an n×n by n×n matmul in <paramref name="dtype"/> (fp32 by default) over at least
    /// <paramref name="repeats"/> matmuls and at least <paramref name="minSeconds"/> of them. The time floor is there because the
    /// rate comes in phases: on a 2-core AMD EPYC (Zen 5) VM the same 1024³ matmul ran at ~190 or ~400 GFLOP/s in fp32 (bf16: ~350
    /// or ~700) for stretches of a fraction of a second to several seconds, so a best of 10 calls (~0.1 s) often measured only
    /// the slow phase (`bench train` reported fp32 at 108 % of such a "peak").</summary>
    public static MatmulResult Measure(Device device, int size = 1024, int repeats = 10, ScalarType dtype = ScalarType.Float32,
        double minSeconds = 0.25)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randn(size, size, device: device).to(dtype);
        var b = torch.randn(size, size, device: device).to(dtype);
        a.matmul(b);   // warm-up
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (int i = 0; i < repeats || total.Elapsed.TotalSeconds < minSeconds; i++)
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
    /// fastest depends on the CPU and the type (a 2-core AMD EPYC with AVX-512 BF16 once measured bf16 at 687 GFLOP/s at 512³ and
    /// 350 at 1024³, fp32 the other way round), and a peak taken at the slower size would report more than the run's share of
    /// the machine. Training runs take the default time floor (half a second in all); <c>bench</c> asks for more
    /// (<see cref="BenchSeconds"/>): 0.25 s a size still caught only the slow phase on the Zen 5 VM (fp32 239 GFLOP/s), 0.6 s
    /// caught the fast one (382–400).</summary>
    public static double UtilisationPeakGFlops(Device device, ScalarType dtype, int repeats = 3, double minSeconds = 0.25)
    {
        var key = (device.ToString(), dtype);
        lock (Peaks)
        {
            // A peak taken over a shorter floor than asked for is measured again (a bench after a training run in one process).
            if (Peaks.TryGetValue(key, out var known) && known.Seconds >= minSeconds) return known.GFlops;
            double peak = Math.Max(Measure(device, 512, repeats, dtype, minSeconds).GFlops,
                Measure(device, 1024, repeats, dtype, minSeconds).GFlops);
            Peaks[key] = (minSeconds, peak);
            return peak;
        }
    }

    /// <summary>The time floor a benchmark's peak is measured over, per size.</summary>
    public const double BenchSeconds = 0.6;

    /// <summary>Measured once per process, device and type (and again for a longer floor): a machine's peak does not change
    /// between the runs of one process, and every fine-tuning run, the precision choice and <c>doctor</c> ask for it. One lock
    /// for every key: two measurements at once would slow each other.</summary>
    static readonly Dictionary<(string Device, ScalarType Type), (double Seconds, double GFlops)> Peaks = [];
}
