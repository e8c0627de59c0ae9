using System.Text;
using System.Text.Json;

namespace PluginGpt.Core.Corpora;

/// <summary>A piece of a document: whole documents are yielded as one piece unless longer than the piece limit, so no
/// corpus (nor one huge document) is ever held in memory as text.</summary>
public readonly record struct DocumentPiece(string Text, bool StartsDocument, bool EndsDocument);

/// <summary>
/// Streams a corpus file's documents. Gzip is recognised by its magic bytes, not its name. Formats by extension (after
/// <c>.gz</c>): <c>.tsv</c> — a header row naming a <c>text</c> or <c>sentence</c> column, one document per row (labels are never
/// read); <c>.jsonl</c> — one <c>{"text": …}</c> object per line; anything else is text, where a blank line ends a document
/// (or every line is one, with <see cref="CorpusSource.LineDocuments"/>).
/// </summary>
public static class CorpusDocuments
{
    /// <summary>Text documents longer than this are cut at a line boundary into pieces (the pieces still form one document).</summary>
    public const int PieceChars = 1 << 20;

    public static Stream OpenRead(string path) =>
        File.Exists(path) ? DataFiles.OpenRead(path) : throw new UserInputException($"corpus: {path} not found");

    public static IEnumerable<DocumentPiece> Read(CorpusSource source)
    {
        using var reader = new StreamReader(OpenRead(source.Path), Encoding.UTF8);
        var pieces = DataFiles.Extension(source.Path) switch
        {
            ".tsv" => TsvRows(reader, source.Path),
            ".jsonl" => JsonlRows(reader, source.Path),
            _ when source.LineDocuments => Lines(reader),
            _ => BlankLineDocuments(reader),
        };
        foreach (var piece in pieces) yield return piece;
    }

    static IEnumerable<DocumentPiece> Whole(string text) => [new DocumentPiece(text, true, true)];

    static IEnumerable<DocumentPiece> Lines(StreamReader reader)
    {
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            if (!string.IsNullOrWhiteSpace(line)) yield return new DocumentPiece(line, true, true);
    }

    static IEnumerable<DocumentPiece> BlankLineDocuments(StreamReader reader)
    {
        var text = new StringBuilder();
        bool started = false;   // a piece of the current document was already yielded
        for (var line = reader.ReadLine(); ; line = reader.ReadLine())
        {
            bool end = line is null || line.Length == 0 || string.IsNullOrWhiteSpace(line);
            if (end && (text.Length > 0 || started))
            {
                // A document cut into pieces ends with what is left of it, which may be nothing but its end.
                yield return new DocumentPiece(text.ToString(), !started, true);
                text.Clear();
                started = false;
            }
            if (line is null) yield break;
            if (end) continue;
            if (text.Length > 0) text.Append('\n');
            text.Append(line);
            if (text.Length >= PieceChars)
            {
                text.Append('\n');   // the next piece continues after this line's end
                yield return new DocumentPiece(text.ToString(), !started, false);
                text.Clear();
                started = true;
            }
        }
    }

    static IEnumerable<DocumentPiece> TsvRows(StreamReader reader, string path)
    {
        var header = reader.ReadLine() ?? throw new DataException($"{path}: empty (a TSV corpus needs a header row)");
        var columns = header.Split('\t');
        int column = Array.FindIndex(columns, c => c.Trim() is "text" or "sentence" or "content");
        if (column < 0)
            throw new DataException($"{path}: header has no 'text', 'sentence' or 'content' column (found: {string.Join(", ", columns)})");
        int row = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            row++;
            var fields = line.Split('\t');
            if (fields.Length <= column) throw new DataException($"{path}: row {row} has {fields.Length} fields, no '{columns[column]}'");
            if (!string.IsNullOrWhiteSpace(fields[column])) foreach (var p in Whole(fields[column])) yield return p;
        }
    }

    static IEnumerable<DocumentPiece> JsonlRows(StreamReader reader, string path)
    {
        int row = 0;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            row++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var json = JsonDocument.Parse(line);
                text = json.RootElement.GetProperty("text").GetString();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new DataException($"{path}: line {row}: expected an object with a string 'text' ({e.Message.Split('.')[0]})");
            }
            if (!string.IsNullOrWhiteSpace(text)) yield return new DocumentPiece(text, true, true);
        }
    }
}
