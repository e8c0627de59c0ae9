using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Tasks.Data;

/// <summary>One data row: values by column name (and by 0-based index as a string), and where it came from.</summary>
public sealed class Row(string file, int line, IReadOnlyDictionary<string, object?> values)
{
    public string File { get; } = file;
    public int Line { get; } = line;

    /// <summary>A text column (several named with commas are joined by a space); a missing one is a <see cref="DataException"/> naming
    /// file, line and column.</summary>
    public string Text(string column)
    {
        if (column.Contains(',')) return string.Join(" ", column.Split(',').Select(c => Text(c.Trim())));
        var value = Value(column);
        return value switch
        {
            string s => s,
            IEnumerable<string> list => string.Join(" ", list),
            _ => throw Error(column, $"column '{column}' is not text"),
        };
    }

    /// <summary>A list column (a JSON array), or several columns named with commas (<c>choice1,choice2</c>).</summary>
    public IReadOnlyList<string> List(string column)
    {
        if (column.Contains(',')) return column.Split(',').Select(c => Text(c.Trim())).ToArray();
        return Value(column) switch
        {
            IReadOnlyList<string> list => list,
            string s => [s],
            _ => throw Error(column, $"column '{column}' is not a list"),
        };
    }

    object Value(string column)
    {
        if (!values.TryGetValue(column, out var value) || value is null)
        {
            var names = values.Keys.Where(k => !int.TryParse(k, out _)).DefaultIfEmpty("columns 0.." + (values.Count - 1));
            throw Error(column, $"missing column '{column}' (row has: {string.Join(", ", names)})");
        }
        return value;
    }

    public DataException Error(string column, string message) => new($"{File}:{Line}: {message}");
}
