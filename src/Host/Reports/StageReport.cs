using System.Globalization;
using System.Text;

namespace PluginGpt.Host.Reports;

/// <summary>A recipe's stages side by side: <c>stages.md</c> (every metric of every stage) and a bar chart <c>stages.png</c>
/// of the primary metric.</summary>
public static class StageReport
{
    public static (string Markdown, string Png) Write(string directory, string name, IReadOnlyList<StageResult> stages, string primary)
    {
        var metrics = stages.SelectMany(s => s.Metrics.Keys).Distinct().ToList();
        var md = new StringBuilder($"| stage | {string.Join(" | ", metrics)} |\n|---|{string.Concat(metrics.Select(_ => "---:|"))}\n");
        foreach (var stage in stages)
            md.AppendLine($"| {stage.Name} | " + string.Join(" | ", metrics.Select(m =>
                stage.Metrics.TryGetValue(m, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "")) + " |");
        var markdown = Path.Combine(directory, "stages.md");
        AtomicFile.WriteAllText(markdown, md.ToString());
        var bars = stages.Where(s => s.Metrics.ContainsKey(primary)).Select(s => (s.Name, s.Metrics[primary])).ToList();
        var png = MethodChart.Write(Path.Combine(directory, "stages.png"), bars, null, $"{name}: {primary} by stage");
        return (markdown, png);
    }
}
