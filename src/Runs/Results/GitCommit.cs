namespace PluginGpt.Runs.Results;

/// <summary>The commit checked out in the folder a command runs in (or a parent of it), read from <c>.git</c> itself: no git
/// program is needed, and a folder outside any repository has none.</summary>
public static class GitCommit
{
    /// <summary>The commit, or null when there is none or it cannot be read (a run is recorded without it then).</summary>
    public static string? Find(string directory)
    {
        try { return Search(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static string? Search(string directory)
    {
        for (var dir = new DirectoryInfo(directory); dir is not null; dir = dir.Parent)
        {
            var git = Path.Combine(dir.FullName, ".git");
            if (File.Exists(git))   // a worktree or submodule: "gitdir: PATH"
            {
                var line = File.ReadAllText(git).Trim();
                if (!line.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
                git = Path.GetFullPath(line["gitdir:".Length..].Trim(), dir.FullName);
            }
            if (Directory.Exists(git)) return Resolve(git);
        }
        return null;
    }

    static string? Resolve(string git)
    {
        try
        {
            var head = File.ReadAllText(Path.Combine(git, "HEAD")).Trim();
            if (!head.StartsWith("ref:", StringComparison.Ordinal)) return head;   // detached: the commit itself
            var reference = head["ref:".Length..].Trim();
            // A worktree keeps its HEAD but shares refs with the main repository, named in its commondir file.
            var commonFile = Path.Combine(git, "commondir");
            var common = File.Exists(commonFile) ? Path.GetFullPath(File.ReadAllText(commonFile).Trim(), git) : git;
            foreach (var root in new[] { git, common })
            {
                var loose = Path.Combine(root, reference);
                if (File.Exists(loose)) return File.ReadAllText(loose).Trim();
            }
            var packed = Path.Combine(common, "packed-refs");
            if (!File.Exists(packed)) return null;
            return File.ReadLines(packed).Select(l => l.Split(' '))
                .FirstOrDefault(parts => parts.Length == 2 && parts[1] == reference)?[0];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
