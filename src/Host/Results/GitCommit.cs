namespace PluginGpt.Host.Results;

/// <summary>The commit checked out in the folder a command runs in (or a parent of it), read from <c>.git</c> itself: no git
/// program is needed, and a folder outside any repository has none.</summary>
public static class GitCommit
{
    public static string? Find(string directory)
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
            var loose = Path.Combine(git, reference);
            if (File.Exists(loose)) return File.ReadAllText(loose).Trim();
            var packed = Path.Combine(git, "packed-refs");
            if (!File.Exists(packed)) return null;
            return File.ReadLines(packed).Select(l => l.Split(' '))
                .FirstOrDefault(parts => parts.Length == 2 && parts[1] == reference)?[0];
        }
        catch (IOException) { return null; }
    }
}
