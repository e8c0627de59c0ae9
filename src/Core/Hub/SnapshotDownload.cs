namespace PluginGpt.Core.Hub;

/// <summary>Fills a snapshot from the hub: config.json (whose answer names the commit), the weights (the sharded index and
/// every shard, else model.safetensors), then the optional tokenizer and generation files. What the cache already has costs
/// no request; a 404 for an optional file is remembered in .no_exist as huggingface_hub does.</summary>
sealed class SnapshotDownload(RepoCache cache, HubHttp http, BlobDownload blobs, HubReference reference)
{
    string commit = "";

    /// <summary>Returns the snapshot folder.</summary>
    public async Task<string> RunAsync(CancellationToken ct)
    {
        var (config, _) = await http.HeadAsync(reference.Revision, ModelFiles.Config, ct);
        if (config is null)
            throw new UserInputException($"{reference}: repository or revision not found " +
                $"(no {ModelFiles.Config} at {http.ResolveUrl(reference.Revision, ModelFiles.Config)})");
        // Every later file is asked for by this commit, so a push during the download cannot mix two versions.
        commit = config.Commit;
        await Store(ModelFiles.Config, config, ct);
        cache.WriteRef(reference.Revision, commit);

        if (await Fetch(ModelFiles.Index, ct))
        {
            foreach (var shard in ModelFiles.Shards(cache.SnapshotFile(commit, ModelFiles.Index), reference.ToString()))
                if (!await Fetch(shard, ct))
                    throw new CheckpointException($"{reference}: shard {shard} named in {ModelFiles.Index} does not exist");
        }
        else if (!await Fetch(ModelFiles.Weights, ct))
            throw new CheckpointException($"{reference}: the repository has neither {ModelFiles.Weights} nor {ModelFiles.Index} " +
                "(only safetensors weights are supported)");
        foreach (var file in ModelFiles.Optional) await Fetch(file, ct);
        return cache.SnapshotDir(commit);
    }

    /// <summary>True when the snapshot has the file afterwards, false when the hub says it does not exist.</summary>
    async Task<bool> Fetch(string file, CancellationToken ct)
    {
        if (cache.Has(commit, file)) return true;
        if (cache.IsMarkedMissing(commit, file)) return false;
        var (meta, missingAt) = await http.HeadAsync(commit, file, ct);
        if (meta is null)
        {
            cache.MarkMissing(missingAt ?? commit, file);
            return false;
        }
        await Store(file, meta, ct);
        return true;
    }

    /// <summary>Downloads the blob unless the cache has it (another snapshot may share it), then links it in.</summary>
    async Task Store(string file, FileMetadata meta, CancellationToken ct)
    {
        if (cache.Has(meta.Commit, file)) return;
        var blob = cache.Blob(meta.Etag);
        if (!File.Exists(blob))
        {
            using var held = await BlobLock.AcquireAsync(cache.Lock(meta.Etag), ct);
            if (!File.Exists(blob)) await blobs.RunAsync(file, meta, blob, ct);   // unless another process just finished it
        }
        cache.Link(meta.Commit, file, meta.Etag);
    }
}
