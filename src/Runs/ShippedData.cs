namespace PluginGpt.Runs;

/// <summary>
/// Finds what the program ships (<c>data/</c>, <c>experiments/</c>): beside or above the program first (the repository of a build,
/// the folder of a publish or an installed tool), so an unrelated <c>data/</c> in the working folder does not hide it; then the
/// working folder.
/// </summary>
public static class ShippedData
{
    public static string Path(params string[] parts)
    {
        var relative = System.IO.Path.Combine(["data", .. parts]);
        return BesideProgram(relative) ?? (Exists(relative) ? System.IO.Path.GetFullPath(relative) : null) ?? throw new UserInputException(
            $"shipped data '{relative}' not found above {AppContext.BaseDirectory} or under {Environment.CurrentDirectory}");
    }

    static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    static string? BesideProgram(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, relative);
            if (Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>A path the user gave (a model, tokenizer or experiment file): as given when it exists, else the shipped one of
    /// that name (<c>data/tokenizers/en-4k</c>, <c>experiments/quickstart</c>), else as given.</summary>
    public static string RepoPath(string relative)
    {
        if (Exists(relative) || System.IO.Path.IsPathRooted(relative)) return System.IO.Path.GetFullPath(relative);
        return BesideProgram(relative) ?? System.IO.Path.GetFullPath(relative);
    }

    /// <summary>A model folder the user named: a Hugging Face hub reference (<c>hf:ORG/NAME[@REVISION]</c>) resolved in the
    /// Hugging Face cache (downloading what is missing unless HF_HUB_OFFLINE=1), else <see cref="RepoPath"/>.</summary>
    public static string ModelPath(string path) =>
        Core.Hub.HubModel.IsHubReference(path) ? Core.Hub.HubModel.Resolve(path) : RepoPath(path);

    /// <summary>An experiment file as given, else the shipped one of that name (<c>experiments/lora-sst2-tiny.json</c> from an
    /// installed tool, in any folder).</summary>
    public static string ExperimentFile(string path)
    {
        if (File.Exists(path) || System.IO.Path.IsPathRooted(path)) return path;
        var shipped = RepoPath(path);
        return File.Exists(shipped) ? shipped : path;
    }

    /// <summary>The shipped evaluation sets (every file under <c>data/</c> named for a dev, validation or test split): no
    /// pre-training document may contain their texts.</summary>
    public static IReadOnlyList<string> EvaluationSets()
    {
        var root = Path();
        return [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(System.IO.Path.GetFileName(f),
                @"(^|[-_.])(dev|val|valid|test)([-_.]|$)"))
            .Where(f => !f.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>The base model the quickstart adapts: pg-base pre-trained on to 23 tokens a parameter (see its README in
    /// <c>models/</c>); experiments measured on pg-base name it.</summary>
    public const string BaseModel = "models/pg-base-long";

    /// <summary>The default pre-training corpus: SST-2's unlabelled training sentences (in-domain text for the sentiment tasks).</summary>
    public static IReadOnlyList<string> DefaultCorpus() =>
        [Path("corpus", "sst2-sentences.txt")];
}
