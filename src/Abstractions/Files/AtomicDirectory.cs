namespace PluginGpt.Abstractions;

/// <summary>Replaces a folder as a whole: write a fresh one beside it, then swap; a crash leaves the old one (or its <c>.old</c>)
/// whole.</summary>
public static class AtomicDirectory
{
    public static void Replace(string target, Action<string> write)
    {
        var fresh = target + ".new";
        var old = target + ".old";
        if (Directory.Exists(fresh)) Directory.Delete(fresh, true);
        Directory.CreateDirectory(fresh);
        write(fresh);
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(fresh, target);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }
}
