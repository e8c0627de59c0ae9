using System.Text.Json;

namespace PluginGpt.Host;

/// <summary>Which exceptions are the user's to fix (bad option, file, checkpoint) and the one line that says so.</summary>
public static class UserErrors
{
    public static string? Describe(Exception e) => e switch
    {
        UserInputException or ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or FormatException => e.Message,
        JsonException j => $"{j.Path ?? "JSON"}: {j.Message}",
        UnauthorizedAccessException or IOException => e.Message,
        InvalidOperationException when e.Source == "PluginGpt.Core" => e.Message,
        _ => null,
    };
}
