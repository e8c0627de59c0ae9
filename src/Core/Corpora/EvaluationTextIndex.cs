using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PluginGpt.Core.Corpora;

/// <summary>A pre-training document that contains an evaluation text.</summary>
public sealed record Contamination(string EvaluationFile, int EvaluationLine, string EvaluationText);

/// <summary>
/// The texts of evaluation sets (every text field of every row: TSV columns, JSONL string values, CSV fields), to find any of them
/// inside pre-training documents. Texts compare by their letters and digits only, lower-cased ("was n't" = "wasn't"), so
/// tokenisation and punctuation do not hide a copy; texts shorter than <see cref="MinimumChars"/> such characters (a few words,
/// which occur by chance) are not checked. A rolling hash over each document's first <see cref="MinimumChars"/> characters of
/// every position finds candidates in one pass; each is then compared in full.
/// </summary>
public sealed class EvaluationTextIndex
{
    public const int MinimumChars = 40;
    const ulong Base = 1_000_003;

    readonly Dictionary<ulong, List<int>> byPrefix = [];
    readonly List<(string File, int Row, string Text, string Normalized)> texts = [];
    readonly ulong highPower;

    public EvaluationTextIndex(IEnumerable<string> files)
    {
        highPower = 1;
        for (int i = 0; i < MinimumChars - 1; i++) highPower *= Base;
        foreach (var file in files.Order(StringComparer.Ordinal))
            foreach (var (row, text) in Fields(file))
            {
                var normalized = Normalize(text);
                if (normalized.Length < MinimumChars) continue;
                texts.Add((file, row, text, normalized));
                var hash = Hash(normalized.AsSpan(0, MinimumChars));
                if (!byPrefix.TryGetValue(hash, out var list)) byPrefix[hash] = list = [];
                list.Add(texts.Count - 1);
            }
        Files = [.. files.Order(StringComparer.Ordinal)];
    }

    public IReadOnlyList<string> Files { get; }
    public int Count => texts.Count;

    /// <summary>SHA-256 over the checked texts: part of the token cache's key, so a corpus is checked again when they change.</summary>
    public string Fingerprint()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in texts) sha.AppendData(Encoding.UTF8.GetBytes(t.Normalized + "\n"));
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>The first evaluation text found inside <paramref name="document"/>, or null.</summary>
    public Contamination? Find(string document)
    {
        if (texts.Count == 0) return null;
        var chars = Normalize(document);
        if (chars.Length < MinimumChars) return null;
        ulong hash = Hash(chars.AsSpan(0, MinimumChars));
        for (int start = 0; ; start++)
        {
            if (byPrefix.TryGetValue(hash, out var candidates))
                foreach (int i in candidates)
                {
                    var t = texts[i];
                    if (start + t.Normalized.Length <= chars.Length
                        && string.CompareOrdinal(chars, start, t.Normalized, 0, t.Normalized.Length) == 0)
                        return new Contamination(t.File, t.Row, t.Text);
                }
            if (start + MinimumChars >= chars.Length) return null;
            hash = (hash - chars[start] * highPower) * Base + chars[start + MinimumChars];
        }
    }

    static ulong Hash(ReadOnlySpan<char> span)
    {
        ulong hash = 0;
        foreach (char c in span) hash = hash * Base + c;
        return hash;
    }

    public static string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (char c in text) if (char.IsLetterOrDigit(c)) builder.Append(char.ToLowerInvariant(c));
        return builder.ToString();
    }

    /// <summary>(line, text) for every text field of the file; lines count from 1.</summary>
    static IEnumerable<(int Row, string Text)> Fields(string file)
    {
        using var reader = new StreamReader(CorpusDocuments.OpenRead(file), Encoding.UTF8);
        var format = DataFiles.Extension(file);
        int row = 0;   // a header row is read too: its names are shorter than a checked text
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            row++;
            IEnumerable<string> fields = format switch
            {
                ".jsonl" => JsonStrings(line, file, row),
                ".csv" => CsvFields(line),
                ".tsv" => line.Split('\t'),
                _ => [line],
            };
            foreach (var field in fields) yield return (row, field);
        }
    }

    static IEnumerable<string> JsonStrings(string line, string file, int row)
    {
        if (string.IsNullOrWhiteSpace(line)) return [];
        try
        {
            using var json = JsonDocument.Parse(line);
            var found = new List<string>();
            Collect(json.RootElement, found);
            return found;
        }
        catch (JsonException e) { throw new DataException($"{file}: line {row}: {e.Message.Split('.')[0]}"); }

        static void Collect(JsonElement e, List<string> found)
        {
            if (e.ValueKind == JsonValueKind.String) found.Add(e.GetString()!);
            else if (e.ValueKind == JsonValueKind.Object) foreach (var p in e.EnumerateObject()) Collect(p.Value, found);
            else if (e.ValueKind == JsonValueKind.Array) foreach (var v in e.EnumerateArray()) Collect(v, found);
        }
    }

    /// <summary>RFC 4180 fields (quotes, doubled quotes inside them).</summary>
    static List<string> CsvFields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }
}
