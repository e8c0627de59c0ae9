using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace PluginGpt.Core.Tests;

/// <summary>An in-process stand-in for the hub's resolve endpoint on 127.0.0.1, answering as huggingface.co does:
/// <c>*.safetensors</c> are LFS files (HEAD/GET answer 302 to <c>/cdn/&lt;sha256&gt;</c> with X-Linked-Etag and
/// X-Linked-Size on the redirect), the rest git files with the blob sha1 as ETag; X-Repo-Commit on every answer; 404s carry
/// X-Error-Code. Faults on demand: dropped connections mid-body, ranges ignored, corrupted LFS content.</summary>
sealed class FakeHub : IDisposable
{
    public sealed class Repo
    {
        public Dictionary<string, string> Refs { get; } = [];
        public Dictionary<string, Dictionary<string, byte[]>> Commits { get; } = [];
        public bool Gated { get; init; }
    }

    public sealed record Request(string Method, string Path, string? Range, string? Authorization)
    {
        public int Status { get; set; }
    }

    readonly HttpListener listener = new();
    public string Endpoint { get; }
    public Dictionary<string, Repo> Repos { get; } = [];
    /// <summary>Old repository id → new one: answered with a relative 307 like a renamed repository.</summary>
    public Dictionary<string, string> Renamed { get; } = [];
    public string Token { get; init; } = "hf_secret";
    /// <summary>How many CDN GETs to cut off half-way (Content-Length says more, then the connection is aborted).</summary>
    public int DropGets;
    public bool IgnoreRange { get; set; }
    /// <summary>LFS files served with one byte changed (same size, wrong sha256).</summary>
    public HashSet<string> Corrupt { get; } = [];
    public ConcurrentQueue<Request> Requests { get; } = new();

    public FakeHub()
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = FreePort();
            listener.Prefixes.Clear();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { listener.Start(); Endpoint = $"http://127.0.0.1:{port}"; break; }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _ = Task.Run(Serve);
    }

    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
    /// <summary>What git (and the hub's ETag for a non-LFS file) names a blob: sha1("blob &lt;size&gt;\0" + content).</summary>
    public static string GitSha1(byte[] data) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));
    static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal);

    async Task Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => Handle(context));
        }
    }

    void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        // Logged first: the client may have its answer before this thread gets back from writing it.
        var entry = new Request(request.HttpMethod, request.RawUrl ?? "", request.Headers["Range"], request.Headers["Authorization"]);
        Requests.Enqueue(entry);
        try { entry.Status = Answer(request, response, entry); }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { }
        finally
        {
            try { response.Close(); }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException) { }
        }
    }

    int Answer(HttpListenerRequest request, HttpListenerResponse response, Request entry)
    {
        var path = (request.RawUrl ?? "").Split('?')[0];
        if (path.StartsWith("/cdn/", StringComparison.Ordinal)) return ServeCdn(path["/cdn/".Length..], request, response, entry);

        var parts = path.TrimStart('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
        var at = Array.IndexOf(parts, "resolve");
        if (at < 1 || parts.Length < at + 3) return Fail(response, 404, null);
        var repoId = string.Join('/', parts[..at]);
        var revision = parts[at + 1];
        var file = string.Join('/', parts[(at + 2)..]);
        if (Renamed.TryGetValue(repoId, out var renamed))
        {
            response.Headers["Location"] = $"/{renamed}/resolve/{Uri.EscapeDataString(revision)}/{file}";
            return Fail(response, 307, null);
        }
        if (!Repos.TryGetValue(repoId, out var repo)) return Fail(response, 404, "RepoNotFound");
        if (repo.Gated && request.Headers["Authorization"] != $"Bearer {Token}") return Fail(response, 401, "GatedRepo");
        var commit = repo.Refs.TryGetValue(revision, out var c) ? c : repo.Commits.ContainsKey(revision) ? revision : null;
        if (commit is null) return Fail(response, 404, "RevisionNotFound");
        response.Headers["X-Repo-Commit"] = commit;
        if (!repo.Commits[commit].TryGetValue(file, out var content)) return Fail(response, 404, "EntryNotFound");
        if (IsLfs(file))
        {
            var sha = Sha256(content);
            response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            response.Headers["X-Linked-Size"] = content.Length.ToString();
            response.Headers["ETag"] = "\"etag-of-the-redirect-not-the-file\"";
            response.Headers["Location"] = $"{Endpoint}/cdn/{sha}";
            return Fail(response, 302, null);
        }
        response.Headers["ETag"] = $"\"{GitSha1(content)}\"";
        return Body(request, response, content, drop: false, entry);
    }

    int ServeCdn(string sha, HttpListenerRequest request, HttpListenerResponse response, Request entry)
    {
        var content = Repos.Values.SelectMany(r => r.Commits.Values).SelectMany(f => f.Values).FirstOrDefault(b => Sha256(b) == sha);
        if (content is null) return Fail(response, 404, null);
        if (Corrupt.Contains(sha)) { content = [.. content]; content[^1] ^= 0xFF; }
        var drop = request.HttpMethod == "GET" && Interlocked.Decrement(ref DropGets) >= 0;
        return Body(request, response, content, drop, entry);
    }

    int Body(HttpListenerRequest request, HttpListenerResponse response, byte[] content, bool drop, Request entry)
    {
        var from = 0;
        var status = 200;
        if (!IgnoreRange && request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            from = int.Parse(range["bytes=".Length..].TrimEnd('-'));
            if (from >= content.Length) return Fail(response, 416, null);
            status = 206;
            response.Headers["Content-Range"] = $"bytes {from}-{content.Length - 1}/{content.Length}";
        }
        response.StatusCode = entry.Status = status;
        response.ContentLength64 = content.Length - from;
        if (request.HttpMethod == "HEAD") return status;
        if (drop)
        {
            // Half the promised bytes, then the connection goes: the client sees the body end early.
            response.OutputStream.Write(content, from, (content.Length - from) / 2);
            response.OutputStream.Flush();
            response.Abort();
            return status;
        }
        response.OutputStream.Write(content, from, content.Length - from);
        return status;
    }

    static int Fail(HttpListenerResponse response, int status, string? errorCode)
    {
        response.StatusCode = status;
        if (errorCode is not null) response.Headers["X-Error-Code"] = errorCode;
        response.ContentLength64 = 0;
        return status;
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
    }
}
