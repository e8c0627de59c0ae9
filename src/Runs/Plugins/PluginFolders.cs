namespace PluginGpt.Runs.Plugins;

/// <summary>Where plugins are looked for: <c>--plugins</c> folders, <c>PLUGINGPT_PLUGINS</c>, and the build's own plugin folder.</summary>
public static class PluginFolders
{
    public const string EnvironmentVariable = "PLUGINGPT_PLUGINS";

    public static IReadOnlyList<string> Resolve(IEnumerable<string>? fromCommandLine)
    {
        var folders = new List<string>(fromCommandLine ?? []);
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
            foreach (var folder in env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                // A folder the user named and that is not there would silently load nothing from it.
                if (!Directory.Exists(folder))
                    throw new OptionsException($"{EnvironmentVariable}: folder {Path.GetFullPath(folder)} not found");
                folders.Add(folder);
            }
        if (BuildFolder() is { } build) folders.Add(build);
        return folders.Select(Path.GetFullPath).Distinct().ToList();
    }

    /// <summary><c>plugins/</c> beside the program (a publish), else the repository's <c>artifacts/plugins/</c> above it (a
    /// build).</summary>
    static string? BuildFolder()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "plugins");
        if (Directory.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "plugins");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
