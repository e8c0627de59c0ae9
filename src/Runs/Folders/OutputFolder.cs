using System.Text.RegularExpressions;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs;

/// <summary>Output folders are never written into twice: a folder must be new or empty, and is held by one process.</summary>
public static partial class OutputFolder
{
    /// <summary>The full path of <paramref name="path"/>, or an error naming <paramref name="field"/> when it already holds
    /// something.</summary>
    public static string EnsureFree(string path, string field)
    {
        var dir = CheckName(path, field);
        if (File.Exists(dir)) throw new OptionsException($"{field}: {dir} is a file; give a folder (new or empty)");
        if (HoldsSomething(dir))
            throw new OptionsException($"{field}: {dir} already exists and is not empty; " +
                $"runs are never overwritten, choose another {field.TrimStart('-')}");
        return dir;
    }

    static bool HoldsSomething(string dir) =>
        Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any(e => !OutputLock.IsLockFile(e));

    /// <summary>A held folder: made, locked, and checked empty once locked. With <paramref name="unique"/> (a default name
    /// nobody chose) a taken name gets a suffix (<c>-2</c>, <c>-3</c>, …) instead of an error, so two runs started in the same
    /// second both run.</summary>
    public static Claimed Claim(string path, string field, bool unique)
    {
        var wanted = CheckName(path, field);
        for (int i = 1; ; i++)
        {
            var dir = i == 1 ? wanted : CheckName($"{wanted}-{i}", field);
            if (!unique) EnsureFree(dir, field);
            else if (HoldsSomething(dir)) continue;
            OutputLock held;
            try { held = OutputLock.Acquire(dir, field); }
            catch (FolderInUseException) when (unique) { continue; }
            if (!HoldsSomething(dir)) return new Claimed(dir, held);
            held.Dispose();   // another process filled it between the check and the lock
            if (!unique) EnsureFree(dir, field);
        }
    }

    /// <summary>The longest name of one folder most file systems take (ext4, XFS, APFS: 255 bytes).</summary>
    public const int MaxNameBytes = 255;

    /// <summary><paramref name="path"/> as a full path: not empty, <c>~</c> meaning the home folder (as the shell would say
    /// it; JSON files are not read by a shell), and no folder name too long for the file system.</summary>
    public static string CheckName(string path, string field)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new OptionsException($"{field}: empty; name a folder (or leave the setting out for the default)");
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal))
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.TrimStart('~').TrimStart('/'));
        var full = Path.GetFullPath(path);
        static int Bytes(string name) => System.Text.Encoding.UTF8.GetByteCount(name);
        if (full.Split(Path.DirectorySeparatorChar).FirstOrDefault(n => Bytes(n) > MaxNameBytes) is { } tooLong)
            throw new OptionsException($"{field}: the folder name '{tooLong[..40]}…' is {Bytes(tooLong)} " +
                $"bytes long; file systems take at most {MaxNameBytes}");
        return full;
    }

    /// <summary>A folder name made of an experiment's name: path separators and other characters become '-', so a name never
    /// leads outside <c>runs/</c>.</summary>
    public static string SafeName(string name)
    {
        var safe = Unsafe().Replace(name, "-").TrimStart('.', '-');
        return safe.Length == 0 ? "run" : safe;
    }

    [GeneratedRegex("[^A-Za-z0-9._-]")]
    private static partial Regex Unsafe();

    public sealed class Claimed(string directory, OutputLock held) : IDisposable
    {
        public string Directory { get; } = directory;
        public void Dispose() => held.Dispose();
    }
}
