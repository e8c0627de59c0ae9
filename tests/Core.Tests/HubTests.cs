using System.Text;
using PluginGpt.Core.Hub;

namespace PluginGpt.Core.Tests;

/// <summary>hf:ORG/NAME[@REVISION] resolution against <see cref="FakeHub"/>, into a temp cache laid out as huggingface_hub's.</summary>
public class HubTests
{
    const string Repo = "acme/tiny-gpt";
    static readonly string Main = FakeHub.GitSha1(Encoding.ASCII.GetBytes("main commit"));
    static readonly byte[] Config = Encoding.UTF8.GetBytes("""{"n_layer": 1, "n_head": 2}""");
    static readonly byte[] Weights = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7 % 251)).ToArray();
    static readonly byte[] Vocab = Encoding.UTF8.GetBytes("""{"a": 0, "b": 1}""");
    static readonly byte[] Merges = Encoding.UTF8.GetBytes("#version: 0.2\na b\n");

    /// <summary>A hub with one public GPT-2 style repository: config, one LFS safetensors file, vocab.json + merges.txt.</summary>
    static FakeHub HubWithModel(bool gated = false)
    {
        var hub = new FakeHub();
        var repo = new FakeHub.Repo { Gated = gated };
        repo.Refs["main"] = Main;
        repo.Commits[Main] = new()
        {
            ["config.json"] = Config,
            ["model.safetensors"] = Weights,
            ["vocab.json"] = Vocab,
            ["merges.txt"] = Merges,
        };
        hub.Repos[Repo] = repo;
        return hub;
    }

    static HubOptions Options(TempDir dir, FakeHub? hub, bool offline = false, string? token = null) => new()
    {
        CacheDir = dir["hub"],
        Endpoint = hub?.Endpoint ?? "http://127.0.0.1:9",
        Offline = offline,
        Token = token,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        ReadTimeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 3,
    };

    static string RepoFolder(TempDir dir) => Path.Combine(dir["hub"], "models--acme--tiny-gpt");

    static UserInputException OneLineError(Action act)
    {
        var e = Assert.ThrowsAny<UserInputException>(act);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Theory]
    [InlineData("hf:acme/tiny-gpt", "acme/tiny-gpt", "main")]
    [InlineData("hf:gpt2", "gpt2", "main")]
    [InlineData("hf:acme/tiny-gpt@v1.0", "acme/tiny-gpt", "v1.0")]
    [InlineData("hf:acme/tiny-gpt@refs/pr/3", "acme/tiny-gpt", "refs/pr/3")]
    public void Hub_references_parse(string text, string repo, string revision)
    {
        Assert.True(HubModel.IsHubReference(text));
        Assert.Equal(new HubReference(repo, revision), HubReference.Parse(text));
    }

    [Theory]
    [InlineData("hf:")]
    [InlineData("hf:acme/tiny/gpt")]
    [InlineData("hf:acme--x/gpt")]
    [InlineData("hf:acme/gpt@")]
    [InlineData("hf:acme/gpt@../../etc")]
    public void Bad_hub_references_are_refused(string text) => OneLineError(() => HubReference.Parse(text));

    [Fact]
    public void Plain_paths_are_not_hub_references() => Assert.False(HubModel.IsHubReference("models/gpt2"));

    [Fact]
    public void Options_follow_huggingface_hub_environment_rules()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["token"], "hf_from_file\n");
        var env = new Dictionary<string, string> { ["HF_HOME"] = dir.Path, ["HF_ENDPOINT"] = "http://mirror/", ["HF_HUB_OFFLINE"] = "yes" };
        var options = HubOptions.FromEnvironment(n => env.GetValueOrDefault(n));
        Assert.Equal(Path.Combine(dir.Path, "hub"), options.CacheDir);
        Assert.Equal("http://mirror", options.Endpoint);
        Assert.Equal("hf_from_file", options.Token);
        Assert.True(options.Offline);

        env["HF_HUB_CACHE"] = dir["elsewhere"];
        env["HF_TOKEN"] = "hf_env";
        env["HF_HUB_OFFLINE"] = "0";
        options = HubOptions.FromEnvironment(n => env.GetValueOrDefault(n));
        Assert.Equal(dir["elsewhere"], options.CacheDir);
        Assert.Equal("hf_env", options.Token);
        Assert.False(options.Offline);

        // HF_TOKEN set, so not even the default token file under ~/.cache is looked at.
        var defaults = HubOptions.FromEnvironment(n => n == "HF_TOKEN" ? "hf_env" : null);
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), defaults.CacheDir);
        Assert.Equal("https://huggingface.co", defaults.Endpoint);
    }

    [Fact]
    public void Download_lays_out_the_cache_as_huggingface_hub_does()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var progress = new List<HubProgress>();
        var snapshot = HubModel.Resolve("hf:" + Repo, Options(dir, hub), progress: new SyncProgress(progress.Add));

        var root = RepoFolder(dir);
        Assert.Equal(Path.Combine(root, "snapshots", Main), snapshot);
        Assert.Equal(Main, File.ReadAllText(Path.Combine(root, "refs", "main")));
        var sha256 = FakeHub.Sha256(Weights);
        var gitSha = FakeHub.GitSha1(Config);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(root, "blobs", sha256)));   // LFS: named by X-Linked-Etag
        Assert.Equal(Config, File.ReadAllBytes(Path.Combine(root, "blobs", gitSha)));    // git file: named by ETag
        foreach (var (file, etag) in new[] { ("model.safetensors", sha256), ("config.json", gitSha) })
        {
            var link = new FileInfo(Path.Combine(snapshot, file));
            Assert.Equal($"../../blobs/{etag}", link.LinkTarget);   // relative symlinks, like Python's cache
        }
        Assert.Equal(Vocab, File.ReadAllBytes(Path.Combine(snapshot, "vocab.json")));
        Assert.Equal(Merges, File.ReadAllBytes(Path.Combine(snapshot, "merges.txt")));
        // Optional files the repository lacks are remembered as absent, not fetched again.
        Assert.True(File.Exists(Path.Combine(root, ".no_exist", Main, "tokenizer_config.json")));
        Assert.True(File.Exists(Path.Combine(root, ".no_exist", Main, "model.safetensors.index.json")));
        Assert.False(File.Exists(Path.Combine(snapshot, "tokenizer.json")));
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "blobs"), "*.incomplete"));
        // The LFS file came through the 302 to the CDN path, after one GET there.
        Assert.Single(hub.Requests, r => r.Method == "GET" && r.Path == $"/cdn/{sha256}" && r.Status == 200);
        Assert.Contains(hub.Requests, r => r.Method == "HEAD" && r.Path.EndsWith("/model.safetensors") && r.Status == 302);
        Assert.Equal(Weights.Length, progress.Where(p => p.File == "model.safetensors").Max(p => p.Bytes));
        Assert.Contains(progress, p => p.File == "config.json" && p.Total == Config.Length);   // size known from the HEAD
    }

    [Fact]
    public void A_complete_cached_snapshot_costs_no_request_online_or_offline()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var first = HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        var count = hub.Requests.Count;
        Assert.Equal(first, HubModel.Resolve("hf:" + Repo, Options(dir, hub)));
        Assert.Equal(first, HubModel.Resolve("hf:" + Repo, Options(dir, hub, offline: true)));
        Assert.Equal(first, HubModel.Resolve($"hf:{Repo}@{Main}", Options(dir, hub)));
        Assert.Equal(count, hub.Requests.Count);
    }

    [Fact]
    public void Offline_with_nothing_cached_names_repo_revision_files_and_cache()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var e = OneLineError(() => HubModel.Resolve($"hf:{Repo}@v2", Options(dir, hub, offline: true)));
        Assert.Contains("hf:acme/tiny-gpt@v2", e.Message);
        Assert.Contains("config.json", e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Contains(RepoFolder(dir), e.Message);
        Assert.Empty(hub.Requests);
    }

    [Fact]
    public void Offline_with_a_lost_blob_names_the_missing_file()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        File.Delete(Path.Combine(RepoFolder(dir), "blobs", FakeHub.Sha256(Weights)));   // the snapshot link now dangles
        var count = hub.Requests.Count;
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub, offline: true)));
        Assert.Contains("missing model.safetensors", e.Message);
        Assert.Equal(count, hub.Requests.Count);

        // Online, only that file is fetched again.
        HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        Assert.Single(hub.Requests.Skip(count), r => r.Method == "GET");
    }

    [Fact]
    public void A_named_revision_gets_its_ref_and_a_commit_sha_none()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var v2 = FakeHub.GitSha1(Encoding.ASCII.GetBytes("v2 commit"));
        var config2 = Encoding.UTF8.GetBytes("""{"n_layer": 2}""");
        hub.Repos[Repo].Refs["v2"] = v2;
        hub.Repos[Repo].Commits[v2] = new() { ["config.json"] = config2, ["model.safetensors"] = Weights };

        var snapshot = HubModel.Resolve($"hf:{Repo}@v2", Options(dir, hub));
        Assert.Equal(v2, File.ReadAllText(Path.Combine(RepoFolder(dir), "refs", "v2")));
        Assert.Equal(config2, File.ReadAllBytes(Path.Combine(snapshot, "config.json")));
        Assert.False(File.Exists(Path.Combine(RepoFolder(dir), "refs", "main")));

        var pinned = HubModel.Resolve($"hf:{Repo}@{Main}", Options(dir, hub));
        Assert.Equal(Path.Combine(RepoFolder(dir), "snapshots", Main), pinned);
        Assert.Equal(Config, File.ReadAllBytes(Path.Combine(pinned, "config.json")));
        Assert.False(File.Exists(Path.Combine(RepoFolder(dir), "refs", Main)));
        Assert.Contains(hub.Requests, r => r.Path == $"/{Repo}/resolve/{Main}/config.json");
        // Both snapshots share the one weights blob: it was downloaded once.
        Assert.Single(hub.Requests, r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_sharded_index_fetches_every_shard()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var shard1 = Weights[..1000];
        var shard2 = Weights[1000..3000];
        var index = Encoding.UTF8.GetBytes("""
            {"metadata": {"total_size": 3000}, "weight_map": {
              "wte.weight": "model-00001-of-00002.safetensors", "wpe.weight": "model-00001-of-00002.safetensors",
              "h.0.attn.c_attn.weight": "model-00002-of-00002.safetensors"}}
            """);
        hub.Repos[Repo].Commits[Main] = new()
        {
            ["config.json"] = Config,
            ["model.safetensors.index.json"] = index,
            ["model-00001-of-00002.safetensors"] = shard1,
            ["model-00002-of-00002.safetensors"] = shard2,
        };
        var snapshot = HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        Assert.Equal(shard1, File.ReadAllBytes(Path.Combine(snapshot, "model-00001-of-00002.safetensors")));
        Assert.Equal(shard2, File.ReadAllBytes(Path.Combine(snapshot, "model-00002-of-00002.safetensors")));
        Assert.False(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.DoesNotContain(hub.Requests, r => r.Path.EndsWith("/model.safetensors", StringComparison.Ordinal));
        var count = hub.Requests.Count;
        HubModel.Resolve("hf:" + Repo, Options(dir, hub, offline: true));
        Assert.Equal(count, hub.Requests.Count);
    }

    [Fact]
    public void A_gated_repository_asks_for_HF_TOKEN_and_works_with_it()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel(gated: true);
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub)));
        Assert.Contains("gated or private", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Contains(Repo, e.Message);

        e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub, token: "hf_wrong")));
        Assert.Contains("no access", e.Message);

        HubModel.Resolve("hf:" + Repo, Options(dir, hub, token: hub.Token));
        Assert.Contains(hub.Requests, r => r.Authorization == $"Bearer {hub.Token}" && r.Status == 200);
    }

    [Fact]
    public void Missing_repository_and_revision_are_named()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var e = OneLineError(() => HubModel.Resolve("hf:acme/nothing-here", Options(dir, hub)));
        Assert.Contains("acme/nothing-here", e.Message);
        Assert.Contains("not found", e.Message);
        e = OneLineError(() => HubModel.Resolve($"hf:{Repo}@no-such-branch", Options(dir, hub)));
        Assert.Contains("no-such-branch", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void A_repository_without_safetensors_weights_is_an_error()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        hub.Repos[Repo].Commits[Main].Remove("model.safetensors");
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub)));
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public async Task A_blob_locked_by_another_process_is_waited_for()
    {
        // huggingface_hub holds .locks/<repo folder>/<etag>.lock (an flock) while it writes a blob.
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var lockPath = Path.Combine(dir["hub"], ".locks", "models--acme--tiny-gpt", FakeHub.Sha256(Weights) + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        Task<string> resolving;
        using (new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            resolving = HubModel.ResolveAsync("hf:" + Repo, Options(dir, hub));
            await Task.Delay(700);
            if (resolving.IsCompleted) await resolving;   // shows the exception
            Assert.False(resolving.IsCompleted);
            Assert.DoesNotContain(hub.Requests, r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
        }
        var snapshot = await resolving.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    [Fact]
    public void A_dropped_connection_resumes_with_a_range_request()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        hub.DropGets = 1;
        var snapshot = HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var gets = hub.Requests.Where(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.Matches(@"^bytes=[1-9]\d*-$", gets[1].Range);   // resumed from what the first try wrote
        Assert.Equal(206, gets[1].Status);
    }

    [Fact]
    public void A_partial_file_from_an_earlier_run_is_resumed()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var blobs = Path.Combine(RepoFolder(dir), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, FakeHub.Sha256(Weights) + ".incomplete"), Weights[..12345]);
        var snapshot = HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Single(hub.Requests, r => r.Method == "GET" && r.Range == "bytes=12345-" && r.Status == 206);
    }

    [Fact]
    public void A_server_that_ignores_the_range_is_read_from_the_start()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        hub.IgnoreRange = true;
        hub.DropGets = 1;
        var snapshot = HubModel.Resolve("hf:" + Repo, Options(dir, hub));
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    [Fact]
    public void Retries_are_bounded_and_the_partial_file_is_kept()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        hub.DropGets = 100;
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub)));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("3 attempts", e.Message);
        Assert.Equal(3, hub.Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)));
        Assert.True(File.Exists(Path.Combine(RepoFolder(dir), "blobs", FakeHub.Sha256(Weights) + ".incomplete")));
    }

    [Fact]
    public void A_checksum_mismatch_names_both_hashes_and_keeps_no_blob()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        var sha = FakeHub.Sha256(Weights);
        hub.Corrupt.Add(sha);
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, hub)));
        var bad = Weights.ToArray();
        bad[^1] ^= 0xFF;
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains(sha, e.Message);
        Assert.Contains(FakeHub.Sha256(bad), e.Message);
        var blobs = Path.Combine(RepoFolder(dir), "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, sha)));
        Assert.False(File.Exists(Path.Combine(blobs, sha + ".incomplete")));
        Assert.False(File.Exists(Path.Combine(RepoFolder(dir), "snapshots", Main, "model.safetensors")));
    }

    [Fact]
    public void An_unreachable_endpoint_is_named()
    {
        using var dir = new TempDir();
        var endpoint = $"http://127.0.0.1:{FakeHub.FreePort()}";   // nothing listens there now
        var e = OneLineError(() => HubModel.Resolve("hf:" + Repo, Options(dir, null) with { Endpoint = endpoint }));
        Assert.Contains(endpoint, e.Message);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
    }

    [Fact]
    public void A_renamed_repository_is_followed_through_its_relative_redirect()
    {
        using var dir = new TempDir();
        using var hub = HubWithModel();
        hub.Renamed["old-org/old-name"] = Repo;
        var snapshot = HubModel.Resolve("hf:old-org/old-name", Options(dir, hub));
        // Cached under the name asked for, as huggingface_hub does.
        Assert.Equal(Path.Combine(dir["hub"], "models--old-org--old-name", "snapshots", Main), snapshot);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; this one records in order, at once.</summary>
    sealed class SyncProgress(Action<HubProgress> report) : IProgress<HubProgress>
    {
        public void Report(HubProgress value) => report(value);
    }
}
