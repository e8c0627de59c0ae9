using static TorchSharp.torch;

namespace PluginGpt.Core;

/// <summary>The precision a command runs in: its name, the matmul type of its <see cref="Autocast"/> region (null: fp32),
/// and why it was chosen.</summary>
public sealed record PrecisionChoice(string Name, ScalarType? ComputeType, string Reason)
{
    public static readonly PrecisionChoice Fp32 = new("fp32", null, "asked for");

    /// <summary>The matmul type (fp32 when no region).</summary>
    public ScalarType MatmulType => ComputeType ?? ScalarType.Float32;
}

/// <summary>
/// Turns <c>fp32</c>, <c>bf16</c> or <c>auto</c> into a <see cref="PrecisionChoice"/>. <c>auto</c> on a CPU decides from what the
/// CPU is — bf16 where it has AVX-512 BF16 or AMX, fp32 where bf16 would be emulated — so the same command on the same machine
/// always computes the same way (a timing under load once flipped the choice about half the time). Where the CPU's flags
/// cannot be read, and on a GPU, a bf16 and an fp32 matmul are measured (once per process) and bf16 taken when it is at
/// least 1.5× as fast.
/// </summary>
public static class PrecisionSelector
{
    public const double AutoThreshold = 1.5;

    public static PrecisionChoice Resolve(string name, Device device) => name.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => PrecisionChoice.Fp32,
        "bf16" or "bfloat16" => new PrecisionChoice("bf16", ScalarType.BFloat16, "asked for"),
        "auto" or "" => Auto(device),
        _ => throw new OptionsException($"precision '{name}' is not fp32, bf16 or auto"),
    };

    /// <summary>Both matmul peaks of <paramref name="device"/> in GFLOP/s, as MFU's denominator takes them (measured once per
    /// process, <see cref="MatmulPeak.UtilisationPeakGFlops"/>).</summary>
    public static (double Fp32, double Bf16) Peaks(Device device) =>
        (MatmulPeak.UtilisationPeakGFlops(device, ScalarType.Float32), MatmulPeak.UtilisationPeakGFlops(device, ScalarType.BFloat16));

    static PrecisionChoice Auto(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CPU && CpuFeatures.Flags is { } flags) return FromFlags(flags);
        var (fp32, bf16) = Peaks(device);
        double ratio = bf16 / fp32;
        var reason = $"auto: bf16 matmul {bf16:F0} GFLOP/s, fp32 {fp32:F0} ({ratio:F1}×)";
        return ratio >= AutoThreshold
            ? new PrecisionChoice("bf16", ScalarType.BFloat16, reason)
            : new PrecisionChoice("fp32", null, reason);
    }

    /// <summary><c>auto</c> on a CPU with <paramref name="flags"/>.</summary>
    public static PrecisionChoice FromFlags(IReadOnlySet<string> flags) => CpuFeatures.NativeBf16(flags) is { } flag
        ? new PrecisionChoice("bf16", ScalarType.BFloat16, $"auto: the CPU has {flag}")
        : new PrecisionChoice("fp32", null, "auto: the CPU has neither AVX-512 BF16 nor AMX, so bf16 would be emulated");
}
