using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;

namespace PluginGpt.Core.Corpora;

/// <summary>A document left out of pre-training because it holds an evaluation text (document numbers count from 1).</summary>
public sealed record DroppedDocument(int Document, string EvaluationFile, int EvaluationLine, string EvaluationText);

/// <summary>A corpus's token stream and what was left out of it.</summary>
public sealed record EncodedCorpus(int[] Tokens, IReadOnlyList<DroppedDocument> Dropped);

/// <summary>
/// A corpus's token stream, encoded once and kept in a cache file named by a key over the corpus bytes, the document rule and
/// the tokenizer's files: change any of them and the key changes, so a stale cache is never read. Documents are encoded in
/// parallel batches as they stream from the file; only tokens are kept.
/// </summary>
public static class CorpusTokenCache
{
    const string FormatVersion = "plugingpt-corpus-tokens-1";

    public static string Key(CorpusSource source, string tokenizerFingerprint)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{FormatVersion}\n{tokenizerFingerprint}\n{source.LineDocuments}\n"));
        using (var file = File.OpenRead(source.Path)) sha.AppendData(SHA256.HashData(file));
        return Convert.ToHexString(sha.GetHashAndReset())[..20].ToLowerInvariant();
    }

    /// <summary>SHA-256 over the files the tokenizer saves (names and bytes): two tokenizers with equal files encode alike.</summary>
    public static string Fingerprint(IModelTokenizer tokenizer)
    {
        var dir = Directory.CreateTempSubdirectory("plugingpt-tokenizer-").FullName;
        try
        {
            tokenizer.Save(dir);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
                sha.AppendData(File.ReadAllBytes(file));
            }
            return Convert.ToHexString(sha.GetHashAndReset());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    public static string CachePath(string cacheDirectory, CorpusSource source, string key) =>
        Path.Combine(cacheDirectory, $"{Safe(source.Name)}-{key}.tokens");

    static string Safe(string name) => string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    /// <summary>The corpus's tokens from the cache, encoding (and caching) them first when the cache is missing or damaged; and the
    /// documents left out because they hold an evaluation text (kept beside the cache as <c>.dropped.json</c>).</summary>
    public static EncodedCorpus Load(CorpusSource source, IModelTokenizer tokenizer, string fingerprint, string cacheDirectory,
        EvaluationTextIndex? evaluation = null, Action<string>? note = null, CancellationToken cancel = default)
    {
        var path = CachePath(cacheDirectory, source, Key(source, fingerprint));
        var droppedPath = path + ".dropped.json";
        if (TokenDataset.TryLoadTokens(path) is { } cached && ReadDropped(droppedPath) is { } dropped)
            return new EncodedCorpus(cached, dropped);
        note?.Invoke(File.Exists(path)
            ? $"{path} does not match its length and checksum; tokenising {source.Name} again"
            : $"tokenising {source.Name} (cached in {cacheDirectory})");
        var encoded = Encode(source, tokenizer, evaluation, cancel);
        if (encoded.Dropped.Count > 0)
            note?.Invoke($"{source.Name}: left out {encoded.Dropped.Count} document(s) holding evaluation text (first: document " +
                $"{encoded.Dropped[0].Document}, {encoded.Dropped[0].EvaluationFile} line {encoded.Dropped[0].EvaluationLine})");
        Directory.CreateDirectory(cacheDirectory);
        AtomicFile.WriteAllText(droppedPath, JsonSerializer.Serialize(encoded.Dropped));
        TokenDataset.SaveTokens(path, encoded.Tokens);
        return encoded;
    }

    static List<DroppedDocument>? ReadDropped(string path)
    {
        try { return File.Exists(path) ? JsonSerializer.Deserialize<List<DroppedDocument>>(File.ReadAllText(path)) : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>The token stream: a document as its family saw them (Llama's behind BOS with the dummy prefix; GPT-2's as it is),
    /// each closed by end-of-text. Identical for a gzip file and its plain text. A document (piece) holding a text of
    /// <paramref name="evaluation"/>'s sets is left out and reported.</summary>
    public static EncodedCorpus Encode(CorpusSource source, IModelTokenizer tokenizer, EvaluationTextIndex? evaluation = null,
        CancellationToken cancel = default)
    {
        var tokens = new List<int>();
        var dropped = new List<DroppedDocument>();
        int documents = 0;
        foreach (var batch in CorpusDocuments.Read(source).Chunk(512))
        {
            cancel.ThrowIfCancellationRequested();
            var encoded = batch.AsParallel().AsOrdered()
                .Select(piece => (Leak: evaluation?.Find(piece.Text), Piece: piece))
                .Select(p => (p.Leak, Ids: p.Leak is null ? EncodePiece(p.Piece, tokenizer) : null)).ToArray();
            for (int i = 0; i < encoded.Length; i++)
            {
                if (batch[i].StartsDocument) documents++;
                if (encoded[i].Leak is { } leak)
                    dropped.Add(new DroppedDocument(documents, leak.EvaluationFile, leak.EvaluationLine, leak.EvaluationText));
                else tokens.AddRange(encoded[i].Ids!);
            }
        }
        return new EncodedCorpus([.. tokens], dropped);
    }

    static List<int> EncodePiece(DocumentPiece piece, IModelTokenizer tokenizer)
    {
        var ids = new List<int>();
        if (piece.StartsDocument && tokenizer.BeginningOfSequence is { } bos) ids.Add(bos);
        ids.AddRange(piece.StartsDocument ? tokenizer.EncodeStart(piece.Text) : tokenizer.Encode(piece.Text));
        if (piece.EndsDocument) ids.Add(tokenizer.EndOfText);
        return ids;
    }
}
