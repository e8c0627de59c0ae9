using System.Globalization;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Tasks.Data;

/// <summary>Turns rows into <see cref="Example"/>s by column role; every bad row names its file, line and field.</summary>
public static class ExampleBuilder
{
    public static Example Build(Row row, InputFormat format, IReadOnlyDictionary<string, string> columns, IReadOnlyList<string>? rawLabels,
        bool regression, Func<Row, string>? context = null)
    {
        string Column(string role) => columns.TryGetValue(role, out var c) ? c
            : throw new OptionsException($"task.columns: no column given for '{role}' (needed by {format} tasks)");

        switch (format)
        {
            case InputFormat.Single:
                return new Example([NonEmpty(row, Column("text"))], Label: ClassLabel(row, Column("label"), rawLabels));
            case InputFormat.Pair or InputFormat.SymmetricPair:
                var segments = new[] { NonEmpty(row, Column("text_a")), NonEmpty(row, Column("text_b")) };
                return regression
                    ? new Example(segments, Target: Number(row, Column("target")))
                    : new Example(segments, Label: ClassLabel(row, Column("label"), rawLabels));
            default:
                var options = row.List(Column("options"));
                var ctx = context is not null ? context(row) : row.Text(Column("context"));
                return new Example([ctx],
                    Label: OptionLabel(row, Column("label"), options.Count, columns.GetValueOrDefault("option_labels")), Options: options);
        }
    }

    /// <summary>A row of an unlabelled pool: the inputs only (label -1, no target); a label column, if present, is not read.</summary>
    public static Example BuildUnlabelled(Row row, InputFormat format, IReadOnlyDictionary<string, string> columns,
        Func<Row, string>? context = null)
    {
        string Column(string role) => columns.TryGetValue(role, out var c) ? c
            : throw new OptionsException($"task.columns: no column given for '{role}' (needed by {format} tasks)");
        return format switch
        {
            InputFormat.Single => new Example([NonEmpty(row, Column("text"))], Label: -1, Target: double.NaN),
            InputFormat.Pair or InputFormat.SymmetricPair =>
                new Example([NonEmpty(row, Column("text_a")), NonEmpty(row, Column("text_b"))], Label: -1, Target: double.NaN),
            _ => new Example([context is not null ? context(row) : row.Text(Column("context"))], Label: -1, Target: double.NaN,
                Options: row.List(Column("options"))),
        };
    }

    /// <summary>A text the model reads: an empty one is a broken row, not an example.</summary>
    static string NonEmpty(Row row, string column)
    {
        var text = row.Text(column);
        return string.IsNullOrWhiteSpace(text) ? throw row.Error(column, $"empty text in column '{column}'") : text;
    }

    static int ClassLabel(Row row, string column, IReadOnlyList<string>? rawLabels)
    {
        var value = row.Text(column).Trim();
        int index = rawLabels is null ? -1 : IndexOf(rawLabels, value);
        if (index < 0)
            throw row.Error(column, $"unknown label '{value}' in column '{column}' (known: {string.Join(", ", rawLabels ?? [])})");
        return index;
    }

    static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++) if (list[i] == value) return i;
        return -1;
    }

    static int OptionLabel(Row row, string column, int optionCount, string? optionLabelsColumn)
    {
        var value = row.Text(column).Trim();
        int index = optionLabelsColumn is not null ? IndexOf(row.List(optionLabelsColumn), value)
            : int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? i : -1;
        if (index < 0 || index >= optionCount)
            throw row.Error(column, $"answer '{value}' in column '{column}' is not one of the {optionCount} options");
        return index;
    }

    static double Number(Row row, string column)
    {
        var value = row.Text(column);
        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
            : throw row.Error(column, $"'{value}' in column '{column}' is not a number");
    }
}
