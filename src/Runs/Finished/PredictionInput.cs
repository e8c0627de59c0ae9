using System.Text.Json;

namespace PluginGpt.Runs;

/// <summary>
/// Examples to predict, read from a file: JSON Lines (<c>{"text": …}</c>, or <c>{"text_a": …, "text_b": …}</c> for pairs, with
/// <c>"options": […]</c> for multiple choice) or plain text (one example a line, a tab between a pair's two texts).
/// Blank lines are skipped; a bad line is an error naming the file and line. With named adapters a JSON line may name its
/// <c>"adapter"</c>.
/// </summary>
public static class PredictionInput
{
    public static IReadOnlyList<Example> Read(string path, InputFormat format) =>
        [.. ReadRouted(path, new Dictionary<string, InputFormat> { [""] = format }, "", routed: false).Select(r => r.Example)];

    /// <summary>Examples for named adapters: a JSON line's <c>"adapter"</c> names the one that answers it, other lines go to
    /// <paramref name="fallback"/>; each is read in its adapter's input format. An unknown name is an error naming the file and
    /// line.</summary>
    public static IReadOnlyList<(string Adapter, Example Example)> ReadRouted(string path, IReadOnlyDictionary<string, InputFormat> formats,
        string fallback, bool routed = true)
    {
        if (!File.Exists(path)) throw new DataException($"{path}: no such file");
        bool jsonLines = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        var examples = new List<(string, Example)>();
        int number = 0;
        foreach (var line in BoundedLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var (example, adapter) = jsonLines ? FromJson(line, path, number) : (new Example(line.Split('\t')), null);
            if (!routed || adapter is null) adapter = fallback;   // one run answers every line, whatever it names
            if (!formats.TryGetValue(adapter, out var format))
                throw new DataException($"{path}:{number}: adapter: '{adapter}' is not loaded (loaded: {string.Join(", ", formats.Keys)})");
            int needed = format is InputFormat.Pair or InputFormat.SymmetricPair ? 2 : 1;
            if (example.Segments.Count != needed)
                throw new DataException(
                    $"{path}:{number}: this task reads {needed} text(s) an example, the line has {example.Segments.Count}");
            if (format == InputFormat.MultipleChoice && example.Options is not { Count: > 1 })
                throw new DataException($"{path}:{number}: options: a multiple-choice example lists at least two options");
            examples.Add((adapter, example));
        }
        if (examples.Count == 0) throw new DataException($"{path}: no examples (the file is empty)");
        return examples;
    }

    /// <summary>The longest line read as one example. A model reads a few thousand tokens of it; a line of hundreds of megabytes
    /// would otherwise be held whole, then tokenized whole (tens of times its size), before being cut to the context.</summary>
    public const int MaxLineChars = 1_000_000;

    /// <summary>The file's lines, each refused in one line once it passes <see cref="MaxLineChars"/> (read in blocks, never
    /// held beyond the limit).</summary>
    static IEnumerable<string> BoundedLines(string path)
    {
        using var reader = new StreamReader(path);
        var line = new System.Text.StringBuilder();
        var block = new char[64 * 1024];
        int number = 1, read;
        while ((read = reader.Read(block, 0, block.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (block[i] != '\n') continue;
                line.Append(block, start, i - start);
                CheckLength(line, path, number);
                yield return line.ToString().TrimEnd('\r');
                line.Clear();
                number++;
                start = i + 1;
            }
            line.Append(block, start, read - start);
            CheckLength(line, path, number);
        }
        if (line.Length > 0) yield return line.ToString().TrimEnd('\r');
    }

    static void CheckLength(System.Text.StringBuilder line, string path, int number)
    {
        if (line.Length > MaxLineChars)
            throw new DataException($"{path}:{number}: the line is longer than {MaxLineChars:N0} characters; " +
                "an example is at most that (the model reads only its context's tokens of it)");
    }

    static (Example Example, string? Adapter) FromJson(string line, string path, int number)
    {
        try
        {
            var o = JsonDocument.Parse(line).RootElement;
            if (o.ValueKind != JsonValueKind.Object) throw new DataException($"{path}:{number}: expected a JSON object");
            string? Text(string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var segments = Text("text") is { } text ? [text]
                : new[] { Text("text_a"), Text("text_b") }.OfType<string>().ToList();
            if (segments.Count == 0)
                throw new DataException($"{path}:{number}: text: give \"text\" (or \"text_a\" and \"text_b\") as strings");
            var options = o.TryGetProperty("options", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(v => v.ToString()).ToList()
                : null;
            if (o.TryGetProperty("adapter", out var adapter) && adapter.ValueKind != JsonValueKind.String)
                throw new DataException($"{path}:{number}: adapter: give the adapter's name as a string");
            return (new Example(segments, Options: options), Text("adapter"));
        }
        catch (JsonException e)
        {
            throw new DataException($"{path}:{number}: not valid JSON ({e.Message.Split(" Path:")[0]})");
        }
    }
}
