using System.Net;
using System.Net.Http.Headers;

namespace PluginGpt.Core.Hub;

/// <summary>What the hub says about one file: the commit the revision resolved to, the blob's etag (sha256 for LFS files,
/// git blob sha1 otherwise), its size, and the URL to GET it from.</summary>
sealed record FileMetadata(string Commit, string Etag, long? Size, Uri Location);

/// <summary>The hub's resolve endpoint, as huggingface_hub's <c>get_hf_file_metadata</c> reads it, and the error messages
/// for its failures. The handler must not follow redirects itself: the metadata of an LFS file is on the redirect.</summary>
sealed class HubHttp(HttpClient client, HubOptions options, HubReference reference)
{
    const int MaxRedirects = 10;
    readonly Uri endpoint = new(options.Endpoint.TrimEnd('/') + "/");

    public Uri ResolveUrl(string revision, string file) => new(endpoint,
        $"{reference.RepoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>HEAD of a file, following only relative redirects (a renamed repository); a redirect to another host (the
    /// CDN of an LFS file) carries the metadata itself. Null with the commit the 404 named when the file does not exist.</summary>
    public async Task<(FileMetadata? Found, string? Commit)> HeadAsync(string revision, string file, CancellationToken ct)
    {
        var url = ResolveUrl(revision, file);
        for (var hop = 0; ; hop++)
        {
            using var response = await SendAsync(HttpMethod.Head, url, null, file, ct);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { IsAbsoluteUri: false } relative && hop < MaxRedirects)
            {
                url = new Uri(url, relative);
                continue;
            }
            if (response.StatusCode == HttpStatusCode.NotFound && ErrorCode(response) is null or "EntryNotFound")
                return (null, Header(response, "X-Repo-Commit"));
            if (status >= 400) throw Failure(response, file);
            var commit = Header(response, "X-Repo-Commit");
            var etag = Header(response, "X-Linked-Etag") ?? Header(response, "ETag");
            if (commit is null || etag is null)
                throw new UserInputException($"{reference}: {options.Endpoint} sent no {(commit is null ? "X-Repo-Commit" : "ETag")} " +
                    $"for {file} (is HF_ENDPOINT a Hugging Face hub?)");
            etag = etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag;   // huggingface_hub's _normalize_etag
            etag = etag.Trim('"');
            // Both become file and folder names in the cache.
            if (!IsSafeName(commit) || !IsSafeName(etag))
                throw new UserInputException(
                    $"{reference}: {options.Endpoint} sent an invalid commit '{commit}' or etag '{etag}' for {file}");
            var size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked : response.Content.Headers.ContentLength;
            var location = status is >= 300 and < 400 && response.Headers.Location is { } target ? new Uri(url, target) : url;
            return (new FileMetadata(commit, etag, size, location), commit);
        }
    }

    /// <summary>GET from <paramref name="from"/> bytes on (a Range request when above 0), following every redirect. The caller
    /// disposes the response; its status is checked.</summary>
    public async Task<HttpResponseMessage> GetAsync(Uri url, long from, string file, CancellationToken ct)
    {
        for (var hop = 0; ; hop++)
        {
            var response = await SendAsync(HttpMethod.Get, url, from > 0 ? from : null, file, ct);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } target && hop < MaxRedirects)
            {
                response.Dispose();
                url = new Uri(url, target);
                continue;
            }
            if (status >= 400 && status != 416)
            {
                using (response) throw Failure(response, file);
            }
            return response;
        }
    }

    async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long? from, string file, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url);
        // Only the hub gets the token: a redirect elsewhere is a signed CDN URL (huggingface_hub drops it there too).
        if (options.Token is { } token && url.Authority == endpoint.Authority)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));   // sizes are of the file itself
        if (from is long start) request.Headers.Range = new RangeHeaderValue(start, null);
        try { return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct); }
        catch (HttpRequestException e)
        {
            throw new UserInputException($"{reference}: cannot reach {options.Endpoint} for {file} ({OneLine(e.Message)}); " +
                "set HF_HUB_OFFLINE=1 to use the cache only", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new UserInputException($"{reference}: {options.Endpoint} did not answer for {file} within " +
                $"{client.Timeout.TotalSeconds:0} s", e);
        }
    }

    /// <summary>One line for a failed request; the hub's X-Error-Code tells a missing repository from a gated one.</summary>
    Exception Failure(HttpResponseMessage response, string file)
    {
        var status = (int)response.StatusCode;
        var code = ErrorCode(response);
        var page = $"{options.Endpoint}/{reference.RepoId}";
        return (status, code) switch
        {
            (_, "RepoNotFound") => new UserInputException($"{reference}: repository {reference.RepoId} not found at {options.Endpoint} " +
                $"(HTTP {status}; if it is private or gated, set HF_TOKEN to a token with access)"),
            (_, "RevisionNotFound") => new UserInputException($"{reference}: revision '{reference.Revision}' not found (HTTP {status})"),
            (401 or 403, _) when options.Token is null => new UserInputException($"{reference}: gated or private repository " +
                $"(HTTP {status} for {file}): set HF_TOKEN to a token with access to {page}"),
            (401 or 403, _) => new UserInputException($"{reference}: gated or private repository (HTTP {status} for {file}): " +
                $"the token in HF_TOKEN has no access; request it on {page}"),
            _ => new UserInputException(
                $"{reference}: HTTP {status} {response.ReasonPhrase} for {file} from {response.RequestMessage?.RequestUri}"),
        };
    }

    static bool IsSafeName(string name) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    static string? ErrorCode(HttpResponseMessage response) => Header(response, "X-Error-Code");

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault() is { Length: > 0 } v ? v : null
            : null;

    public static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
