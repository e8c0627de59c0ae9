using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;

namespace PluginGpt.Core.NativeRuntime;

/// <summary>
/// LibTorch's CPU build carries Intel's oneMKL, which picks its GEMM kernels by CPU vendor before features: on an AMD CPU with
/// AVX-512 it runs its generic AVX2 path (measured on a 2-core AMD EPYC with AVX-512 BF16: SGEMM 1024³ 117 GFLOP/s; forced
/// onto the feature-based path, 159; the `small` preset's fp32 training 5,307 → 8,037 tokens/s). MKL asks
/// <c>mkl_serv_intel_cpu</c> through libtorch_cpu's procedure-linkage table, so the fix is a process-local one: point that
/// table slot at six bytes of code that answer 1 ("Intel"), before the first GEMM. MKL then chooses kernels by the CPU's
/// feature flags alone (the instructions it picks are ones the CPU has). No file changes; <c>PLUGINGPT_MKL_DISPATCH=vendor</c>
/// keeps MKL's own choice (for comparisons: `bench compare`).
/// </summary>
public static class MklCpuDispatch
{
    /// <summary>Set to <c>vendor</c> to keep MKL's vendor-based choice.</summary>
    public const string Variable = "PLUGINGPT_MKL_DISPATCH";
    // MKL's two vendor checks; its kernels ask one or the other.
    static readonly string[] Symbols = ["mkl_serv_intel_cpu", "mkl_serv_intel_cpu_true"];

    // mov eax, 1; ret
    static readonly byte[] AnswerOne = [0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3];

    static readonly Lazy<string> Applied = new(() =>
    {
        MklReproducibility.Request();   // before LibTorch loads: MKL reads it at its first call
        return Patch();
    });
    static readonly List<IntPtr> slotsWritten = [];

    /// <summary>The table slots <see cref="Apply"/> pointed at its answer (none where it left MKL alone).</summary>
    public static IReadOnlyList<IntPtr> PatchedSlots => slotsWritten;

    /// <summary>Asks MKL for reproducible scheduling (<see cref="MklReproducibility"/>), routes it by CPU features where that
    /// applies (once per process, idempotent) and says what was chosen.</summary>
    public static string Apply() => Applied.Value;

    /// <summary>The CPU vendor from <c>/proc/cpuinfo</c> (e.g. <c>AuthenticAMD</c>), or null.</summary>
    public static string? Vendor(string cpuinfo) => cpuinfo.Split('\n')
        .FirstOrDefault(l => l.StartsWith("vendor_id", StringComparison.Ordinal) && l.Contains(':'))?.Split(':')[1].Trim();

    static string Patch()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "MKL's own choice (not Linux x64)";
        if (Environment.GetEnvironmentVariable(Variable) is "vendor") return $"MKL's own choice ({Variable}=vendor)";
        string? vendor = File.Exists("/proc/cpuinfo") ? Vendor(File.ReadAllText("/proc/cpuinfo")) : null;
        if (vendor != "AuthenticAMD") return $"MKL's own choice ({vendor ?? "unknown"} CPU)";
        _ = torch.get_num_threads();   // loads LibTorch (and MKL with it) if nothing has yet
        var mapping = LibTorchLibrary.Mapping();
        if (mapping is null) return $"MKL's own choice ({LibTorchLibrary.FileName} not loaded)";
        var stub = Stub();
        if (stub is null) return "MKL's own choice (no executable page)";
        var slots = ElfGotSlot.Find(mapping.Value.Path, Symbols);
        foreach (var offset in slots.Values)
        {
            var slot = (IntPtr)(long)(mapping.Value.Start + offset);
            if (!Write(slot, stub.Value)) return "MKL's own choice (a table slot could not be written)";
            slotsWritten.Add(slot);
        }
        if (slots.Count == 0) return "MKL's own choice (its vendor checks are not called through table slots in this LibTorch)";
        return "MKL by CPU features (AMD CPU: its vendor check answered 'Intel')";
    }

    /// <summary>MKL's own account of itself — version and the instruction-set path it runs (after the first GEMM) — or null
    /// where LibTorch carries no MKL.</summary>
    public static string? Description()
    {
        if (LibTorchLibrary.Export("MKL_Get_Version_String") is not { } export) return null;
        var buffer = Marshal.AllocHGlobal(512);
        try
        {
            Marshal.GetDelegateForFunctionPointer<VersionString>(export)(buffer, 512);
            return Marshal.PtrToStringAnsi(buffer)?.Trim();
        }
        finally { Marshal.FreeHGlobal(buffer); }
    }

    delegate void VersionString(IntPtr buffer, int length);

    static IntPtr? Stub()
    {
        nuint size = (nuint)LibC.PageSize();
        if (LibC.AnonymousPage(size) is not { } page) return null;
        Marshal.Copy(AnswerOne, 0, page, AnswerOne.Length);
        return LibC.Mprotect(page, size, LibC.ProtRead | LibC.ProtExec) == 0 ? page : null;
    }

    /// <summary>Writes a pointer into a (possibly read-only) table slot and puts the page's protection back.</summary>
    static bool Write(IntPtr slot, IntPtr value)
    {
        long pageSize = LibC.PageSize();
        var page = (IntPtr)(slot.ToInt64() & ~(pageSize - 1));
        int before = ProtectionAt(slot);
        if ((before & LibC.ProtWrite) == 0 && LibC.Mprotect(page, (nuint)pageSize, before | LibC.ProtWrite) != 0) return false;
        Marshal.WriteIntPtr(slot, value);
        if ((before & LibC.ProtWrite) == 0) LibC.Mprotect(page, (nuint)pageSize, before);
        return Marshal.ReadIntPtr(slot) == value;
    }

    /// <summary>The protection of the mapping holding an address, from <c>/proc/self/maps</c>.</summary>
    static int ProtectionAt(IntPtr address)
    {
        ulong at = (ulong)address.ToInt64();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 3);
            var range = fields[0].Split('-');
            ulong start = ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (at < start || at >= end) continue;
            return (fields[1][0] == 'r' ? LibC.ProtRead : 0) | (fields[1][1] == 'w' ? LibC.ProtWrite : 0) |
                (fields[1][2] == 'x' ? LibC.ProtExec : 0);
        }
        return LibC.ProtRead;
    }
}
