namespace PluginGpt.Abstractions;

/// <summary>Replaces a folder as a whole: write a fresh one beside it (<c>.new</c>, marked complete when written), then swap.
/// A crash at any point leaves a whole folder that <see cref="Recover"/> puts back in place.</summary>
public static class AtomicDirectory
{
    const string Complete = ".complete";

    public static void Replace(string target, Action<string> write)
    {
        Recover(target);
        var fresh = target + ".new";
        var old = target + ".old";
        if (Directory.Exists(fresh)) Directory.Delete(fresh, true);
        Directory.CreateDirectory(fresh);
        write(fresh);
        File.WriteAllText(Path.Combine(fresh, Complete), "");
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(fresh, target);
        if (Directory.Exists(old)) Directory.Delete(old, true);
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
        if (Directory.Exists(fresh) && File.Exists(Path.Combine(fresh, Complete)))
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
