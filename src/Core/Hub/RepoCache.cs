namespace PluginGpt.Core.Hub;

/// <summary>One repository's folder in the huggingface_hub cache, laid out as Python writes it:
/// <c>refs/&lt;revision&gt;</c> holds a commit sha, <c>blobs/&lt;etag&gt;</c> the contents,
/// <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> relative symlinks to the blobs, and <c>.no_exist/&lt;commit&gt;/&lt;file&gt;</c>
/// empty markers for files the hub answered 404 for.</summary>
sealed class RepoCache(string cacheDir, HubReference reference)
{
    public string Root { get; } = Path.Combine(cacheDir, reference.FolderName);

    /// <summary>The commit a revision points to: the revision itself for a commit sha, else what refs/ recorded, else null.</summary>
    public string? CommitOf(string revision)
    {
        if (reference.IsCommit && revision == reference.Revision) return revision;
        var path = Under(Root, "refs", revision);
        return File.Exists(path) ? File.ReadAllText(path).Trim() is { Length: > 0 } sha ? sha : null : null;
    }

    /// <summary>Records the commit of a named revision (huggingface_hub writes none for a commit sha).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit || CommitOf(revision) == commit) return;
        AtomicFile.WriteAllText(Under(Root, "refs", revision), commit);
    }

    public string SnapshotDir(string commit) => Path.Combine(Root, "snapshots", commit);
    public string SnapshotFile(string commit, string file) => Under(SnapshotDir(commit), file);
    public string Blob(string etag) => Path.Combine(Root, "blobs", etag);
    /// <summary>huggingface_hub's lock for a blob (<c>.locks/models--ORG--NAME/&lt;etag&gt;.lock</c>, an flock like ours).</summary>
    public string Lock(string etag) => Path.Combine(cacheDir, ".locks", reference.FolderName, etag + ".lock");

    /// <summary>True when the snapshot has the file (a symlink counts only if its blob is there).</summary>
    public bool Has(string commit, string file)
    {
        var info = new FileInfo(SnapshotFile(commit, file));
        return info.Exists && (info.LinkTarget is null || info.ResolveLinkTarget(returnFinalTarget: true)?.Exists == true);
    }

    public bool IsMarkedMissing(string commit, string file) => File.Exists(Under(Root, ".no_exist", commit, file));

    public void MarkMissing(string commit, string file)
    {
        var path = Under(Root, ".no_exist", commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
    }

    /// <summary>Points <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> at the blob with a relative symlink, as huggingface_hub does
    /// (<c>../../blobs/&lt;etag&gt;</c>), or copies the blob where symlinks fail; either appears at once (rename of a temp).</summary>
    public void Link(string commit, string file, string etag)
    {
        var pointer = SnapshotFile(commit, file);
        var folder = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(folder);
        var temp = pointer + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            try { File.CreateSymbolicLink(temp, Path.GetRelativePath(folder, Blob(etag))); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                File.Copy(Blob(etag), temp, overwrite: true);
            }
            File.Move(temp, pointer, overwrite: true);
        }
        finally { File.Delete(temp); }   // no-op once moved
    }

    /// <summary>Joins a '/'-separated hub path under a folder.</summary>
    static string Under(string folder, params string[] parts) =>
        Path.Combine([folder, .. parts.SelectMany(p => p.Split('/'))]);
}
