using System.Globalization;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Tasks.Data;

/// <summary>Reads TSV, CSV (RFC 4180, via CsvHelper) and JSONL files into rows keyed by column name and index.</summary>
public static class TableReader
{
    public static IReadOnlyList<Row> Read(string path, string? format, bool hasHeader)
    {
        if (!File.Exists(path)) throw new DataException($"{path}: data file not found");
        format ??= DataFiles.Extension(path).TrimStart('.');
        return format switch
        {
            "jsonl" or "json" => ReadJsonLines(path),
            "tsv" => ReadDelimited(path, "\t", hasHeader, quoted: false),
            "csv" => ReadDelimited(path, ",", hasHeader, quoted: true),
            _ => throw new OptionsException($"task.format: {path}: format must be tsv, csv or jsonl, got '{format}'"),
        };
    }

    /// <summary>GLUE's TSVs contain bare quotes inside text, so tabs separate fields and quotes mean nothing. Every row must
    /// have the header's number of fields (or the first row's): a stray tab, a missing field or an unclosed quote that swallows
    /// the rows after it would otherwise shift or drop data silently; a repeated header row is refused too.</summary>
    static List<Row> ReadDelimited(string path, string delimiter, bool hasHeader, bool quoted)
    {
        // A record starts on the line after the previous one ended: CsvHelper's RawRow is a record's last line, which a quoted
        // newline (or an unclosed quote that swallows the rest of the file) puts far below where the problem is.
        int recordStart = 1;
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            Delimiter = delimiter,
            HasHeaderRecord = hasHeader,
            Mode = quoted ? CsvMode.RFC4180 : CsvMode.NoEscape,
            BadDataFound = bad => throw new DataException($"{path}:{recordStart}: malformed quoting near \"{Excerpt(bad.Field)}\""),
            MissingFieldFound = null,
            DetectColumnCountChanges = false,
        };
        using var reader = OpenText(path);
        using var csv = new CsvReader(reader, config);
        string[]? header = null;
        if (hasHeader && csv.Read())
        {
            csv.ReadHeader();
            header = csv.HeaderRecord;
            recordStart = csv.Parser.RawRow + 1;
            if (header?.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new DataException($"{path}:1: column '{twice.Key}' appears twice in the header");
        }
        var rows = new List<Row>();
        int? width = header?.Length;
        while (csv.Read())
        {
            var values = new Dictionary<string, object?>();
            var record = csv.Parser.Record ?? [];
            int line = recordStart;
            recordStart = csv.Parser.RawRow + 1;
            width ??= record.Length;
            if (record.Length != width)
                throw new DataException($"{path}:{line}: {record.Length} fields where every row has {width} " +
                    "(a stray or missing delimiter, or an unclosed quote)");
            if (header is not null && record.SequenceEqual(header))
                throw new DataException($"{path}:{line}: the header row again (files joined together?)");
            for (int i = 0; i < record.Length; i++)
            {
                values[i.ToString(CultureInfo.InvariantCulture)] = record[i];
                if (header is not null && i < header.Length) values[header[i]] = record[i];
            }
            rows.Add(new Row(path, line, values));
        }
        return rows;
    }

    /// <summary>(line number, text) of every non-blank line of a text file (gzip or plain).</summary>
    public static IReadOnlyList<(int Line, string Text)> ReadLines(string path)
    {
        if (!File.Exists(path)) throw new DataException($"{path}: data file not found");
        using var reader = OpenText(path);
        var lines = new List<(int, string)>();
        int number = 0;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            number++;
            if (!string.IsNullOrWhiteSpace(line)) lines.Add((number, line));
        }
        return lines;
    }

    /// <summary>The file's text, decompressed when it is gzip (recognised by its magic bytes, whatever its name).</summary>
    static StreamReader OpenText(string path) => new(DataFiles.OpenRead(path));

    static string Excerpt(string field)
    {
        var first = field.Trim().Split('\n')[0];
        return first.Length <= 60 ? first : first[..60] + "…";
    }

    static List<Row> ReadJsonLines(string path)
    {
        var rows = new List<Row>();
        int line = 0;
        using var reader = OpenText(path);
        for (var text = reader.ReadLine(); text is not null; text = reader.ReadLine())
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonElement root;
            try { root = JsonDocument.Parse(text).RootElement; }
            catch (JsonException e) { throw new DataException($"{path}:{line}: not valid JSON ({e.Message})"); }
            var values = new Dictionary<string, object?>();
            Flatten(root, "", values);
            rows.Add(new Row(path, line, values));
        }
        return rows;
    }

    /// <summary>Nested objects become dotted names (<c>choices.text</c>); arrays of scalars become string lists.</summary>
    static void Flatten(JsonElement e, string prefix, Dictionary<string, object?> values)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) Flatten(p.Value, prefix.Length == 0 ? p.Name : $"{prefix}.{p.Name}", values);
                break;
            case JsonValueKind.Array:
                values[prefix] = e.EnumerateArray().Select(Scalar).ToArray();
                break;
            default:
                values[prefix] = Scalar(e);
                break;
        }
    }

    static string Scalar(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Null => "",
        _ => e.GetRawText(),
    };
}
