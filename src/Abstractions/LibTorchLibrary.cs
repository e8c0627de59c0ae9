using System.Globalization;
using System.Runtime.InteropServices;

namespace PluginGpt.Abstractions;

/// <summary>LibTorch's CPU library as this process mapped it, and the functions it and its dependencies (libgomp, the MKL linked
/// into it) export: what the native-runtime settings and <see cref="OpenMpTeam"/> reach past TorchSharp for.</summary>
static class LibTorchLibrary
{
    internal const string FileName = "libtorch_cpu.so";

    /// <summary>A function libtorch_cpu.so or a library it depends on exports, once LibTorch is loaded; null otherwise (and on
    /// systems without <c>/proc/self/maps</c>).</summary>
    internal static IntPtr? Export(string symbol) =>
        Mapping() is { } mapping && NativeLibrary.TryLoad(mapping.Path, out var library)
            && NativeLibrary.TryGetExport(library, symbol, out var export) ? export : null;

    /// <summary>Where libtorch_cpu.so is mapped in this process: its file and the address of its first page.</summary>
    internal static (string Path, ulong Start)? Mapping()
    {
        if (!File.Exists("/proc/self/maps")) return null;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || !fields[5].EndsWith("/" + FileName, StringComparison.Ordinal)) continue;
            if (ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != 0) continue;
            return (fields[5], ulong.Parse(fields[0].Split('-')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        }
        return null;
    }
}
