namespace PluginGpt.Core;

/// <summary>
/// What the CPU can do natively, read from the kernel's <c>/proc/cpuinfo</c> flags (Linux). .NET's intrinsics report AVX-512
/// but not its BF16 extension nor AMX, which decide whether bf16 matmuls are hardware or emulated.
/// </summary>
public static class CpuFeatures
{
    /// <summary>Flags that make bf16 matmuls native: AVX-512 BF16 (Cooper Lake, Zen 4 and later) and AMX tiles (Sapphire Rapids).
    /// </summary>
    public static readonly string[] Bf16Flags = ["avx512_bf16", "amx_bf16"];

    static readonly Lazy<IReadOnlySet<string>?> Machine = new(() =>
    {
        try { return File.Exists("/proc/cpuinfo") ? Parse(File.ReadAllText("/proc/cpuinfo")) : null; }
        catch (IOException) { return null; }
    });

    /// <summary>This machine's flags, or null where the OS does not list them.</summary>
    public static IReadOnlySet<string>? Flags => Machine.Value;

    /// <summary>The flags of the first processor in a <c>/proc/cpuinfo</c> text (every core of a machine has the same).</summary>
    public static IReadOnlySet<string> Parse(string cpuinfo)
    {
        var line = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(':'));
        if (line is null) return new HashSet<string>();
        return line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
    }

    /// <summary>The first of <see cref="Bf16Flags"/> the flags hold, or null.</summary>
    public static string? NativeBf16(IReadOnlySet<string> flags) => Bf16Flags.FirstOrDefault(flags.Contains);
}
