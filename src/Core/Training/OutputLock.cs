using System.Diagnostics;
using System.Globalization;

namespace PluginGpt.Core.Training;

/// <summary>
/// An exclusive claim on an output folder for as long as a command writes into it: <c>.plugingpt.lock</c>, holding the owner's
/// process id and start time, created whole (written beside it, then linked into place without overwriting: atomic). A second
/// process is refused with the owner named; a lock left by a process that no longer runs (killed, power loss) is reported and
/// taken over. Not a kernel lock (flock): the file must survive the owner to tell the next one what happened.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".plugingpt.lock";

    /// <summary>Whether a folder entry is a lock (or one being made or taken over): it does not make a folder "not empty".</summary>
    public static bool IsLockFile(string entry) => Path.GetFileName(entry).StartsWith(FileName, StringComparison.Ordinal);
    readonly string path;

    OutputLock(string path) => this.path = path;

    /// <summary>Claims <paramref name="directory"/> (created if missing); <paramref name="field"/> names the option in errors.
    /// <paramref name="stale"/> hears of a dead owner's lock that was taken over.</summary>
    public static OutputLock Acquire(string directory, string field, Action<string>? stale = null)
    {
        // Takeovers are always said: a user must learn that a run they thought alive had died.
        stale ??= note => Console.Error.WriteLine(note);
        var path = Path.Combine(directory, FileName);
        using var self = Process.GetCurrentProcess();
        var mine = path + $".tmp-{Environment.ProcessId}";
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllText(mine, $"{Environment.ProcessId} {Ticks(self)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only file system, a missing permission, a full disk: one line naming the folder, not a stack trace.
            throw new OptionsException($"{field}: cannot write in {directory} ({e.Message.TrimEnd('.')})");
        }
        try
        {
            for (int attempt = 0; attempt < 5; attempt++)
            {
                try
                {
                    File.Move(mine, path, overwrite: false);   // fails when a lock is there: never two owners
                    return new OutputLock(path);
                }
                catch (IOException) when (File.Exists(mine)) { }
                if (ReadOwner(path) is not { } owner) continue;   // released meanwhile: try again
                if (owner.Pid == Environment.ProcessId)   // not "another process": one command named the folder twice
                    throw new FolderInUseException($"{field}: {directory} is already in use by this command (pid {owner.Pid}); " +
                        "two of its outputs name the same folder");
                if (IsRunning(owner.Pid, owner.Started))
                    throw new FolderInUseException($"{field}: {directory} is in use by another plugingpt process (pid {owner.Pid}); " +
                        "wait for it to finish or choose another folder");
                // Take the dead owner's lock aside by renaming it (only one process can); put it back if it was not that one.
                var aside = path + $".stale-{Environment.ProcessId}";
                try { File.Move(path, aside, overwrite: true); }
                catch (IOException) { continue; }
                if (ReadOwner(aside) is { } taken && taken != owner && IsRunning(taken.Pid, taken.Started))
                {
                    try { File.Move(aside, path, overwrite: false); } catch (IOException) { }
                    continue;
                }
                File.Delete(aside);
                stale(owner.Pid == 0
                    ? $"{directory}: took over a lock file that names no process (unreadable or damaged)"
                    : $"{directory}: took over the lock of process {owner.Pid}, which no longer runs (it was killed or crashed)");
            }
            throw new OptionsException($"{field}: could not lock {directory}; other processes keep claiming it");
        }
        finally { if (File.Exists(mine)) File.Delete(mine); }
    }

    static long Ticks(Process p)
    {
        try { return p.StartTime.ToUniversalTime().Ticks; }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return 0; }
    }

    /// <summary>The owner a lock file names; a file that is gone is null, one that cannot be parsed names no live process.</summary>
    static (int Pid, long Started)? ReadOwner(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (FileNotFoundException) { return null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (0, 0); }   // e.g. a folder named like the lock
        var parts = text.Split(' ');
        return parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int pid)
            && long.TryParse(parts[1], CultureInfo.InvariantCulture, out long started) ? (pid, started) : (0, 0);
    }

    /// <summary>Whether the process that wrote the lock still runs: the same pid, started at the same time (pids are reused).
    /// Start times are compared within a second: on Linux each process derives them from its own reading of the boot time.</summary>
    static bool IsRunning(int pid, long started)
    {
        if (pid <= 0) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited && (started == 0 || Math.Abs(Ticks(process) - started) < TimeSpan.TicksPerSecond);
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    public void Dispose()
    {
        try { File.Delete(path); } catch (IOException) { }
    }
}

/// <summary>The folder is held by a live process (not an error of the folder itself: another name may be free).</summary>
public sealed class FolderInUseException(string message) : OptionsException(message);
