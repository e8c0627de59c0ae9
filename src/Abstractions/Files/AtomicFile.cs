namespace PluginGpt.Abstractions;

/// <summary>Writes go to a temp file beside the target and are renamed over it, so a crash never leaves half a file.</summary>
public static class AtomicFile
{
    /// <summary>Makes <paramref name="path"/> hold what <paramref name="write"/> writes to the stream (flushed to disk before the
    /// rename); folders are created as needed, and a failed write leaves the previous file untouched.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally { if (File.Exists(temp)) File.Delete(temp); }
    }

    /// <summary><see cref="Write"/> of <paramref name="text"/> as UTF-8.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });
}
