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

    /// <summary>This machine's <c>/proc/cpuinfo</c>, read once; null where there is none.</summary>
    static readonly Lazy<string?> CpuInfo = new(() =>
    {
        try { return File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : null; }
        catch (IOException) { return null; }
    });

    static readonly Lazy<IReadOnlySet<string>?> Machine = new(() => CpuInfo.Value is { } text ? Parse(text) : null);

    /// <summary>This machine's flags, or null where the OS does not list them.</summary>
    public static IReadOnlySet<string>? Flags => Machine.Value;

    /// <summary>The flags of the first processor in a <c>/proc/cpuinfo</c> text (every core of a machine has the same).</summary>
    public static IReadOnlySet<string> Parse(string cpuinfo)
    {
        var line = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(':'));
        if (line is null) return new HashSet<string>();
        return line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
    }

    static readonly Lazy<string?> MachineModel = new(() => CpuInfo.Value is { } text ? Describe(text) : null);

    /// <summary>This machine's CPU as <see cref="Describe"/> names it, or null where the OS does not say.</summary>
    public static string? Model => MachineModel.Value;

    /// <summary>The first processor's model name with its family and model numbers: cloud VMs often report a bare "AMD EPYC"
    /// for every generation (Zen 4 is family 25, Zen 5 family 26), and benchmark histories must tell them apart.</summary>
    public static string? Describe(string cpuinfo)
    {
        var first = cpuinfo.Split("\n\n")[0].Split('\n');
        string? Field(string name) => first.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) &&
            l[name.Length..].TrimStart('\t', ' ').StartsWith(':'))?.Split(':', 2)[1].Trim();
        var name = Field("model name");
        if (name is null) return null;
        var (family, model) = (Field("cpu family"), Field("model"));
        return family is null || model is null ? name : $"{name} (family {family}, model {model})";
    }

    /// <summary>The first of <see cref="Bf16Flags"/> the flags hold, or null.</summary>
    public static string? NativeBf16(IReadOnlySet<string> flags) => Bf16Flags.FirstOrDefault(flags.Contains);
}
