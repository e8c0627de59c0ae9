using System.Diagnostics;
using System.Globalization;

namespace PluginGpt.Core.Training;

/// <summary>
/// An exclusive claim on an output folder for as long as a command writes into it: <c>.plugingpt.lock</c>, created with
/// O_EXCL, holding the owner's process id and start time. A second process is refused with the owner named; a lock left by a
/// process that no longer runs (killed, power loss) is reported and taken over. Not a kernel lock (flock): the file must
/// survive the owner to tell the next one what happened, and a lock must read the same on every platform.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".plugingpt.lock";
    readonly string path;

    OutputLock(string path) => this.path = path;

    /// <summary>Claims <paramref name="directory"/> (created if missing); <paramref name="field"/> names the option in errors.
    /// <paramref name="stale"/> hears of a dead owner's lock that was taken over.</summary>
    public static OutputLock Acquire(string directory, string field, Action<string>? stale = null)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        using var self = Process.GetCurrentProcess();
        var stamp = $"{Environment.ProcessId} {Ticks(self)}";
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                using (var writer = new StreamWriter(stream)) writer.Write(stamp);
                return new OutputLock(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                var owner = ReadOwner(path);
                if (owner is { } o && IsRunning(o.Pid, o.Started))
                    throw new OptionsException($"{field}: {directory} is in use by another plugingpt process (pid {o.Pid}); " +
                        "wait for it to finish or choose another folder");
                stale?.Invoke($"{directory}: took over the lock of process {owner?.Pid.ToString(CultureInfo.InvariantCulture) ?? "?"}, " +
                    "which no longer runs (it was killed or crashed)");
                try { File.Delete(path); } catch (IOException) { }
            }
        }
        throw new OptionsException($"{field}: could not lock {directory}; another process keeps claiming it");
    }

    static long Ticks(Process p)
    {
        try { return p.StartTime.ToUniversalTime().Ticks; }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return 0; }
    }

    static (int Pid, long Started)? ReadOwner(string path)
    {
        try
        {
            var parts = File.ReadAllText(path).Split(' ');
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or OverflowException) { return null; }
    }

    /// <summary>Whether the process that wrote the lock still runs (the same pid with the same start time: pids are reused).</summary>
    static bool IsRunning(int pid, long started)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited && (started == 0 || Ticks(process) == started);
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    public void Dispose()
    {
        try { File.Delete(path); } catch (IOException) { }
    }
}
