namespace PluginGpt.Host;

/// <summary>Finds the repository's <c>data/</c> folder: under the working directory, else above the program's own folder.</summary>
public static class ShippedData
{
    public static string Path(params string[] parts)
    {
        var relative = System.IO.Path.Combine(["data", .. parts]);
        return Find(relative) ?? throw new UserInputException(
            $"shipped data '{relative}' not found under {Environment.CurrentDirectory} or above {AppContext.BaseDirectory}");
    }

    static string? Find(string relative)
    {
        if (File.Exists(relative) || Directory.Exists(relative)) return System.IO.Path.GetFullPath(relative);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>A repository-relative path (like <c>experiments/quickstart</c>) found from the working directory or above the
    /// program.</summary>
    public static string RepoPath(string relative)
    {
        if (File.Exists(relative) || Directory.Exists(relative) || System.IO.Path.IsPathRooted(relative))
            return System.IO.Path.GetFullPath(relative);
        if (Find("data") is not { } dataRoot) return System.IO.Path.GetFullPath(relative);
        var candidate = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(dataRoot)!, relative);
        return File.Exists(candidate) || Directory.Exists(candidate) ? candidate : System.IO.Path.GetFullPath(relative);
    }

    /// <summary>An experiment file as given, else the shipped one of that name (<c>experiments/lora-sst2-tiny.json</c> from an
    /// installed tool, in any folder).</summary>
    public static string ExperimentFile(string path)
    {
        if (File.Exists(path) || System.IO.Path.IsPathRooted(path)) return path;
        var shipped = RepoPath(path);
        return File.Exists(shipped) ? shipped : path;
    }

    /// <summary>The default pre-training corpus: SST-2's unlabelled training sentences (in-domain text for the sentiment tasks).</summary>
    public static IReadOnlyList<string> DefaultCorpus() =>
        [Path("corpus", "sst2-sentences.txt")];
}
