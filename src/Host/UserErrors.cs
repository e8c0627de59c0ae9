namespace PluginGpt.Host;

/// <summary>Which exceptions are the user's to fix, the one line that says so, and where a bug's stack trace goes.</summary>
public static class UserErrors
{
    /// <summary>The line to print for an error the user can fix, or null for a bug. File-system errors name the path themselves.</summary>
    public static string? Describe(Exception e) => e switch
    {
        UserInputException => e.Message,
        UnauthorizedAccessException or DirectoryNotFoundException or FileNotFoundException or PathTooLongException => e.Message,
        IOException io when io.HResult is 28 or 112 or 39 => $"disk full: {io.Message}",   // ENOSPC (Linux), ERROR_DISK_FULL (Windows)
        _ => null,
    };

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
