using System.Net;
using System.Security.Cryptography;

namespace PluginGpt.Core.Hub;

/// <summary>Downloads one blob into <c>blobs/&lt;etag&gt;.incomplete</c>, resuming with a Range request from what an earlier
/// try (or an earlier run) left there, checks size and sha256 (for a 64-hex etag), then renames it to <c>blobs/&lt;etag&gt;</c>.
/// </summary>
sealed class BlobDownload(HubHttp http, HubOptions options, HubReference reference, IProgress<HubProgress>? progress)
{
    const int ReportEvery = 1 << 20;

    public async Task RunAsync(string file, FileMetadata meta, string blobPath, CancellationToken ct)
    {
        var incomplete = blobPath + ".incomplete";
        Directory.CreateDirectory(Path.GetDirectoryName(blobPath)!);
        using var hash = IsSha256(meta.Etag) ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        long written;
        using (var output = new FileStream(incomplete, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            written = output.Length;
            if (meta.Size is long expected && written > expected) { output.SetLength(0); written = 0; }
            if (hash is not null && written > 0) await HashPrefix(output, hash, ct);   // resumes the hash with the file
            written = await Fetch(file, meta, output, hash, ct);
            await output.FlushAsync(ct);
            output.Flush(flushToDisk: true);
        }
        Verify(file, meta, incomplete, written, hash);
        File.Move(incomplete, blobPath, overwrite: true);
    }

    /// <summary>Appends the rest of the file to <paramref name="output"/>, retrying a dropped connection a few times.</summary>
    async Task<long> Fetch(string file, FileMetadata meta, FileStream output, IncrementalHash? hash, CancellationToken ct)
    {
        var written = output.Length;
        var buffer = new byte[81920];
        Exception? last = null;
        for (var attempt = 1; attempt <= options.MaxAttempts; attempt++)
        {
            if (meta.Size is long size && written == size) return written;
            if (attempt > 1) await Task.Delay(options.RetryDelay * (attempt - 1), ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                using var response = await http.GetAsync(meta.Location, written, file, ct);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable || (written > 0 && !ResumesAt(response, written)))
                {
                    // The server sent the whole file (200) or refused the range (416): start over.
                    Restart(output, hash);
                    written = 0;
                    if (response.StatusCode != HttpStatusCode.OK) { last = new IOException("range not satisfiable"); continue; }
                }
                progress?.Report(new HubProgress(file, written, meta.Size));
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                long reported = written;
                while (true)
                {
                    timeout.CancelAfter(options.ReadTimeout);   // re-armed per read: a stalled body counts as a dropped one
                    var n = await body.ReadAsync(buffer, timeout.Token);
                    if (n == 0) break;
                    await output.WriteAsync(buffer.AsMemory(0, n), ct);
                    hash?.AppendData(buffer, 0, n);
                    written += n;
                    if (written - reported < ReportEvery) continue;
                    progress?.Report(new HubProgress(file, written, meta.Size));
                    reported = written;
                }
                progress?.Report(new HubProgress(file, written, meta.Size));
                if (meta.Size is not long total || written >= total) return written;
                last = new IOException($"the body ended at {written} of {total} bytes");
            }
            catch (Exception e) when (!ct.IsCancellationRequested && IsTransient(e))
            {
                last = e;
            }
        }
        throw new UserInputException($"{reference}: downloading {file} failed after {options.MaxAttempts} attempts at " +
            $"{written} bytes ({HubHttp.OneLine(last?.Message ?? "no data")}); run again to resume");
    }

    static bool IsTransient(Exception e) =>
        e is IOException or HttpRequestException or OperationCanceledException
        || (e is UserInputException && e.InnerException is HttpRequestException or TaskCanceledException);

    static bool ResumesAt(HttpResponseMessage response, long written) =>
        response.StatusCode == HttpStatusCode.PartialContent && (response.Content.Headers.ContentRange?.From ?? written) == written;

    static void Restart(FileStream output, IncrementalHash? hash)
    {
        output.SetLength(0);
        output.Position = 0;
        hash?.GetHashAndReset();
    }

    static async Task HashPrefix(FileStream output, IncrementalHash hash, CancellationToken ct)
    {
        output.Position = 0;
        var buffer = new byte[81920];
        int n;
        while ((n = await output.ReadAsync(buffer, ct)) > 0) hash.AppendData(buffer, 0, n);
    }

    /// <summary>Size and checksum of the finished file; a bad file is deleted, not kept as a blob.</summary>
    void Verify(string file, FileMetadata meta, string incomplete, long written, IncrementalHash? hash)
    {
        string? problem = null;
        if (meta.Size is long size && written != size) problem = $"size mismatch: {written} bytes, expected {size}";
        else if (hash is not null && Convert.ToHexStringLower(hash.GetHashAndReset()) is var actual && actual != meta.Etag)
            problem = $"checksum mismatch: sha256 {actual}, expected {meta.Etag}";
        if (problem is null) return;
        File.Delete(incomplete);
        throw new CheckpointException($"{reference}: {file} {problem} (download from {meta.Location} discarded)");
    }

    static bool IsSha256(string etag) => etag.Length == 64 && etag.All(char.IsAsciiHexDigitLower);
}
