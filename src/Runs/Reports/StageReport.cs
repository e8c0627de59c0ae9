using System.Globalization;
using System.Text;

namespace PluginGpt.Runs.Reports;

/// <summary>A recipe's stages side by side: <c>stages.md</c> (every metric of every stage) and a bar chart <c>stages.png</c>
/// of the chosen metrics (one bar per stage; grouped by metric when there are several).</summary>
public static class StageReport
{
    public static (string Markdown, string Png) Write(string directory, string name, IReadOnlyList<StageResult> stages,
        IReadOnlyList<string> chartMetrics)
    {
        var metrics = stages.SelectMany(s => s.Metrics.Keys).Distinct().ToList();
        var md = new StringBuilder($"| stage | {string.Join(" | ", metrics)} |\n|---|{string.Concat(metrics.Select(_ => "---:|"))}\n");
        foreach (var stage in stages)
            md.AppendLine($"| {stage.Name} | " + string.Join(" | ", metrics.Select(m =>
                stage.Metrics.TryGetValue(m, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "")) + " |");
        var markdown = Path.Combine(directory, "stages.md");
        AtomicFile.WriteAllText(markdown, md.ToString());
        var path = Path.Combine(directory, "stages.png");
        if (chartMetrics.Count == 1)
        {
            var primary = chartMetrics[0];
            var bars = stages.Where(s => s.Metrics.ContainsKey(primary)).Select(s => (s.Name, s.Metrics[primary])).ToList();
            return (markdown, MethodChart.Write(path, bars, null, $"{name}: {primary} by stage"));
        }
        var series = stages.Where(s => chartMetrics.Any(s.Metrics.ContainsKey))
            .Select(s => (s.Name, chartMetrics.Select(m => s.Metrics.TryGetValue(m, out var v) ? v : (double?)null).ToArray())).ToList();
        var png = GroupedBarChart.Write(path, $"{name}: by stage", "score (%)", chartMetrics, series);
        return (markdown, png);
    }
}
