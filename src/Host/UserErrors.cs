namespace PluginGpt.Host;

/// <summary>Which exceptions are the user's to fix, the one line that says so, and where a bug's stack trace goes.</summary>
public static class UserErrors
{
    /// <summary>
    /// The line to print for an error the user can fix, or null for a bug. Besides <see cref="UserInputException"/> only the
    /// machine's own refusals count: a path the user may not write (the message names it) and a full disk. A missing file
    /// the user named is reported as a <see cref="UserInputException"/> where it is opened; any other missing file (a plugin's
    /// lost dependency) is a bug to report.
    /// </summary>
    public static string? Describe(Exception e) => e switch
    {
        UserInputException => e.Message,
        UnauthorizedAccessException => e.Message,
        // ENOSPC on Linux; ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL on Windows.
        IOException io when (io.HResult & 0xFFFF) is 28 or 112 or 39 => $"disk full: {io.Message}",
        // TorchSharp's type initializer fails (and keeps failing) when LibTorch cannot be loaded on this machine: the machine's
        // to fix (another platform, a missing system library), not a bug.
        TypeInitializationException { TypeName: "TorchSharp.torch", InnerException: { } cause } => NoLibTorch(cause),
        _ => null,
    };

    static string NoLibTorch(Exception cause) =>
        $"LibTorch could not be loaded on this machine ({System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}; " +
        $"PluginGpt carries LibTorch's linux-x64 build): {cause.Message.Split('\n')[0].Trim()}";

    /// <summary>Writes the exception with the command line to a crash log and returns its path.</summary>
    public static string WriteCrashLog(Exception e, string[] args)
    {
        var folder = Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
            "plugingpt", "logs");
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception) { folder = Path.GetTempPath(); }
        var path = Path.Combine(folder, $"crash-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.log");
        File.WriteAllText(path, $"plugingpt {string.Join(' ', args)}\n{DateTime.UtcNow:O}\n{e}\n");
        return path;
    }
}
