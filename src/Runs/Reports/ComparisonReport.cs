using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace PluginGpt.Runs.Reports;

/// <summary>One compared run: a method (or a sweep setting), its score and cost.</summary>
public sealed record ComparisonRow(
    [property: JsonPropertyName("method")] string Method,
    [property: JsonPropertyName("task")] string Task,
    [property: JsonPropertyName("trainableParameters")] long TrainableParameters,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("folder"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Folder = null)
{
    /// <summary>Memory training added at its peak, MiB (metrics.json's <c>training_memory_mb</c>); null where not measured.</summary>
    [JsonPropertyName("trainingMemoryMb"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? TrainingMemoryMb { get; init; }
}

/// <summary>Runs compared side by side: a console table, <c>STEM.json</c>, <c>STEM.md</c> and a bar chart <c>STEM.png</c>.</summary>
public static class ComparisonReport
{
    static string? Memory(ComparisonRow r) => r.TrainingMemoryMb?.ToString("F0", CultureInfo.InvariantCulture);

    public static IReadOnlyList<string> Write(IAnsiConsole console, string directory, string stem, IReadOnlyList<ComparisonRow> rows,
        ComparisonRow? baseline, string title)
    {
        var table = new Table().AddColumns("method", "task", "trainable parameters", "metric", "value", "time", "training memory");
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Method), r.Task, $"{r.TrainableParameters:N0}", r.Metric, $"{r.Value:F4}", $"{r.Seconds:F0} s",
                Memory(r) is { } mib ? mib + " MiB" : "–");
        if (baseline is not null)
            table.AddRow($"[grey]{baseline.Method}[/]", baseline.Task, "0", baseline.Metric, $"[grey]{baseline.Value:F4}[/]", "", "");
        console.Write(table);

        var json = Path.Combine(directory, stem + ".json");
        AtomicFile.WriteAllText(json,
            JsonSerializer.Serialize(baseline is null ? rows : [.. rows, baseline], new JsonSerializerOptions { WriteIndented = true }));
        var md = new StringBuilder("| method | task | trainable parameters | metric | value | time (s) | training memory (MiB) |\n" +
            "|---|---|---:|---|---:|---:|---:|\n");
        foreach (var r in baseline is null ? rows : [.. rows, baseline])
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Method} | {r.Task} | {r.TrainableParameters:N0} | {r.Metric} | {r.Value:P1} | {r.Seconds:F0} | " +
                $"{Memory(r) ?? "–"} |"));
        var markdown = Path.Combine(directory, stem + ".md");
        AtomicFile.WriteAllText(markdown, md.ToString());
        // Each bar says what it cost: trainable parameters and time, under the method's name.
        var png = MethodChart.Write(Path.Combine(directory, stem + ".png"),
            rows.Select(r => (Label(r), r.Value)).ToList(), baseline?.Value, title);
        return [json, markdown, png];
    }

    static string Label(ComparisonRow r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Method}\n{r.TrainableParameters:N0} trained\n{r.Seconds:F0} s");
}
