using System.Globalization;
using System.Text;

namespace PluginGpt.Runs.Reports;

/// <summary>A multi-task run's tasks side by side: <c>tasks.md</c> (each task's primary metric, constrained and any alternative
/// prediction, invalid answers, mixing rate) and <c>tasks.png</c> (the primary metric per task, one bar per way of predicting).</summary>
public static class TaskReport
{
    public static (string Markdown, string Png) Write(string directory, string name, MultiTask multi,
        IReadOnlyDictionary<string, double> metrics)
    {
        // Alternatives are the prefixes of "<alternative>.mean" (free decoding's scores beside the constrained ones).
        var alternatives = metrics.Keys.Where(k => k.EndsWith("." + MultiTask.MeanMetric, StringComparison.Ordinal))
            .Select(k => k[..^(MultiTask.MeanMetric.Length + 1)]).Where(a => !a.Contains('.')).ToList();
        string F(string key) => metrics.TryGetValue(key, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";
        var md = new StringBuilder($"# {name}: per task\n\n| task | metric | score | ");
        md.Append(string.Concat(alternatives.Select(a => $"{a} | {a} invalid | "))).AppendLine("mixing rate |");
        md.AppendLine("|---|---|---:|" + string.Concat(alternatives.Select(_ => "---:|---:|")) + "---:|");
        for (int m = 0; m < multi.Members.Count; m++)
        {
            var (key, primary) = (multi.Members[m].Key, multi.Members[m].Data.PrimaryMetric);
            md.Append($"| {key} | {primary} | {F($"{key}.{primary}")} | ");
            md.Append(string.Concat(alternatives.Select(a => $"{F($"{a}.{key}.{primary}")} | {F($"{a}.{key}.invalid_rate")} | ")));
            md.AppendLine(multi.Mixture.Rates[m].ToString("F4", CultureInfo.InvariantCulture) + " |");
        }
        md.Append($"| **mean** | | {F(MultiTask.MeanMetric)} | ");
        md.AppendLine(string.Concat(alternatives.Select(a => $"{F($"{a}.{MultiTask.MeanMetric}")} | {F($"{a}.invalid_rate")} | ")) + " |");
        var markdown = Path.Combine(directory, "tasks.md");
        AtomicFile.WriteAllText(markdown, md.ToString());

        var groups = multi.Members.Select(t => $"{t.Key} ({t.Data.PrimaryMetric})").ToList();
        double?[] Values(string prefix) => [.. multi.Members.Select(t =>
            metrics.TryGetValue($"{prefix}{t.Key}.{t.Data.PrimaryMetric}", out var v) ? v : (double?)null)];
        var series = new List<(string, double?[])> { ("main", Values("")) };
        series.AddRange(alternatives.Select(a => (a, Values(a + "."))));
        var png = GroupedBarChart.Write(Path.Combine(directory, "tasks.png"), $"{name}: per task", "score (%)", groups, series);
        return (markdown, png);
    }
}
