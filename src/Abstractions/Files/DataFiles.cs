using System.IO.Compression;

namespace PluginGpt.Abstractions;

/// <summary>Data files that may be gzip-compressed: recognised by their magic bytes (not their name) and read decompressed; their
/// format is the extension under any <c>.gz</c>.</summary>
public static class DataFiles
{
    /// <summary>The file's bytes, decompressed when it is gzip.</summary>
    public static Stream OpenRead(string path)
    {
        var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    /// <summary>The extension under any <c>.gz</c>, lower-cased with its dot (<c>train.tsv.gz</c> → <c>.tsv</c>).</summary>
    public static string Extension(string path) =>
        Path.GetExtension(path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path).ToLowerInvariant();
}
