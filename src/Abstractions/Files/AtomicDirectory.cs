namespace PluginGpt.Abstractions;

/// <summary>Replaces a folder as a whole: write a fresh one beside it (<c>.new</c>, marked complete when written), then swap.
/// A crash at any point leaves a whole folder that <see cref="Recover"/> puts back in place.</summary>
public static class AtomicDirectory
{
    const string Marker = ".complete";

    /// <summary>Makes <paramref name="target"/> hold what <paramref name="write"/> puts into the fresh folder it is given; the
    /// previous folder stays whole until the new one is complete on disk.</summary>
    public static void Replace(string target, Action<string> write)
    {
        Recover(target);
        var fresh = target + ".new";
        var old = target + ".old";
        if (Directory.Exists(fresh)) Directory.Delete(fresh, true);
        Directory.CreateDirectory(fresh);
        write(fresh);
        // On disk before the marker says so: after a power loss a "complete" folder must not hold a truncated file.
        foreach (var file in Directory.EnumerateFiles(fresh, "*", SearchOption.AllDirectories))
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite)) stream.Flush(flushToDisk: true);
        File.WriteAllText(Path.Combine(fresh, Marker), "");
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(fresh, target);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>Where the folder's latest whole version is, without moving anything: the folder itself, or after a crash
    /// mid-swap its complete <c>.new</c> or its <c>.old</c>; null when there is none.</summary>
    public static string? Complete(string target)
    {
        if (Directory.Exists(target)) return target;
        if (Directory.Exists(target + ".new") && File.Exists(Path.Combine(target + ".new", Marker))) return target + ".new";
        return Directory.Exists(target + ".old") ? target + ".old" : null;
    }

    /// <summary>After a crash during <see cref="Replace"/>: a complete <c>.new</c> (the crash came between the two renames)
    /// becomes the folder, else a lone <c>.old</c> returns; an incomplete <c>.new</c> is dropped. True when something moved.</summary>
    public static bool Recover(string target)
    {
        var fresh = target + ".new";
        var old = target + ".old";
        if (Directory.Exists(target))
        {
            if (Directory.Exists(old)) Directory.Delete(old, true);   // the swap finished; only the clean-up was lost
            return false;
        }
        if (Directory.Exists(fresh) && File.Exists(Path.Combine(fresh, Marker)))
        {
            Directory.Move(fresh, target);
            if (Directory.Exists(old)) Directory.Delete(old, true);
            return true;
        }
        if (Directory.Exists(old))
        {
            Directory.Move(old, target);
            return true;
        }
        return false;
    }
}
