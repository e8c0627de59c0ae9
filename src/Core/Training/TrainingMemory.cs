using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;

namespace PluginGpt.Core.Training;

/// <summary>
/// How much memory training adds: the process's resident-set high-water mark (Linux <c>VmHWM</c>) during the measured work,
/// minus its resident set when the work began. On CPU, LibTorch's allocator keeps no statistics TorchSharp can read, and its
/// tensors live in the process heap, so the process peak is what there is; the peak is reset first (<c>/proc/self/clear_refs</c>)
/// and glibc's free pages are returned first (<c>malloc_trim</c>), so memory a previous measurement freed is neither counted
/// nor silently reused. The figure varies by tens of MiB between runs (the resident set at the start does), so compare
/// methods whose difference is larger than that. Null where it cannot be measured: not Linux, or a CUDA device (TorchSharp
/// 0.107 binds no CUDA allocator statistics, and the process peak does not see device memory).
/// </summary>
public sealed class TrainingMemory
{
    readonly long? start;

    TrainingMemory(long? start) => this.start = start;

    /// <summary>Starts a measurement on <paramref name="device"/>.</summary>
    public static TrainingMemory Start(torch.Device device)
    {
        if (device.type != DeviceType.CPU || !OperatingSystem.IsLinux()) return new TrainingMemory(null);
        try
        {
            MallocTrim(0);
            File.WriteAllText("/proc/self/clear_refs", "5");   // 5: reset the peak resident set size to the current one
            return new TrainingMemory(Read("VmRSS"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return new TrainingMemory(null);
        }
    }

    /// <summary>Bytes the peak rose above the start so far; null when not measurable.</summary>
    public long? PeakGrowthBytes => start is { } s && Read("VmHWM") is { } peak ? Math.Max(0, peak - s) : null;

    /// <summary>A field of <c>/proc/self/status</c> in bytes (the kernel writes kB).</summary>
    static long? Read(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? null : StatusBytes(line);
        }
        catch (IOException) { return null; }
    }

    /// <summary>Bytes of a <c>/proc/self/status</c> line such as <c>"VmHWM:\t    2200 kB"</c>; null if it holds no kB figure.
    /// The kernel pads the figure to 8 characters after the tab, so from 10,000,000 kB (9.5 GiB) no space follows the tab.</summary>
    public static long? StatusBytes(string line)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts is [_, var kb, "kB"] && long.TryParse(kb, NumberStyles.None, CultureInfo.InvariantCulture, out long v)
            ? v * 1024 : null;
    }

#pragma warning disable SYSLIB1054   // LibraryImport needs unsafe code in the whole assembly, for one blittable call
    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
#pragma warning restore SYSLIB1054
}
