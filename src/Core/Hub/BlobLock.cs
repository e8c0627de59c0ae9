namespace PluginGpt.Core.Hub;

/// <summary>huggingface_hub's per-blob lock file, held while a blob is downloaded. On Unix .NET takes an flock(LOCK_EX) for
/// FileShare.None, as Python's filelock does, so neither writes a blob the other is writing; an flock dies with its process,
/// so waiting for one is safe.</summary>
static class BlobLock
{
    public static async Task<IDisposable> AcquireAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (IsHeldElsewhere(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
            }
        }
    }

    /// <summary>The lock is taken: EWOULDBLOCK from flock on Linux (11) or macOS (35), a sharing or lock violation on
    /// Windows. Anything else (a read-only cache, a full disk) is an error, not a reason to wait.</summary>
    static bool IsHeldElsewhere(IOException e) =>
        e.HResult is 11 or 35 || ((e.HResult & 0xFFFF) is 0x20 or 0x21 && (e.HResult >>> 16) == 0x8007);
}
