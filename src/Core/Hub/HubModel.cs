namespace PluginGpt.Core.Hub;

/// <summary>Resolves a <c>model.path</c> of the form <c>hf:ORG/NAME[@REVISION]</c> to a local snapshot folder in the
/// huggingface_hub cache (shared with Python tools), downloading what is missing.</summary>
public static class HubModel
{
    public static bool IsHubReference(string? path) => HubReference.IsHubReference(path);

    /// <inheritdoc cref="ResolveAsync"/>
    public static string Resolve(string reference, HubOptions? options = null, HttpMessageHandler? handler = null,
        IProgress<HubProgress>? progress = null, CancellationToken ct = default) =>
        ResolveAsync(reference, options, handler, progress, ct).GetAwaiter().GetResult();

    /// <summary>The snapshot folder of the reference. A cached snapshot that has every file is used with no request at all
    /// (unlike huggingface_hub, a cached <c>main</c> is not re-checked for newer commits: clear refs/main to update);
    /// otherwise the hub is asked, unless <see cref="HubOptions.Offline"/>, which then is an error naming what is missing.
    /// <paramref name="options"/> defaults to the environment; <paramref name="handler"/> (for tests) must not follow
    /// redirects itself.</summary>
    public static async Task<string> ResolveAsync(string reference, HubOptions? options = null, HttpMessageHandler? handler = null,
        IProgress<HubProgress>? progress = null, CancellationToken ct = default)
    {
        var parsed = HubReference.Parse(reference);
        options ??= HubOptions.FromEnvironment();
        var cache = new RepoCache(options.CacheDir, parsed);
        IReadOnlyList<string> missing = [ModelFiles.Config, ModelFiles.Weights];
        var commit = cache.CommitOf(parsed.Revision);
        if (commit is not null)
        {
            (missing, var unknown) = ModelFiles.Check(cache, commit, parsed.ToString());
            if (missing.Count == 0 && (unknown.Count == 0 || options.Offline)) return cache.SnapshotDir(commit);
        }
        if (options.Offline)
        {
            var noRef = commit is null ? $"no refs/{parsed.Revision}; " : "";
            throw new UserInputException($"{parsed}: not in the cache and HF_HUB_OFFLINE is set " +
                $"({noRef}missing {string.Join(", ", missing)}; cache folder {cache.Root})");
        }

        var ownHandler = handler is null;
        using var client = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false }, disposeHandler: ownHandler)
        {
            Timeout = options.ReadTimeout,
        };
        var http = new HubHttp(client, options, parsed);
        var download = new SnapshotDownload(cache, http, new BlobDownload(http, options, parsed, progress), parsed);
        try { return await download.RunAsync(ct); }
        catch (UserInputException e) when (commit is not null && missing.Count == 0 && e.InnerException is HttpRequestException)
        {
            // Only optional files were unknown and the hub is out of reach: the cached snapshot will do (as huggingface_hub).
            return cache.SnapshotDir(commit);
        }
    }
}
