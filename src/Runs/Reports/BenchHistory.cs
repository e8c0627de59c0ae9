using System.Globalization;
using System.Text;
using PluginGpt.Runs.Results;
using Spectre.Console;

namespace PluginGpt.Runs.Reports;

/// <summary><c>results --bench</c>: recorded benchmark results, oldest first, with the machine and commit of each, so a change in
/// speed between commits (or machines) is one look.</summary>
public static class BenchHistory
{
    static readonly string[] Columns = ["started", "commit", "cpu", "cores", "bench", "arguments", "precision", "figures"];

    /// <summary>The figures a reader looks at first: throughput, ratios and memory (all of them are in --json).</summary>
    static bool Headline(string name) => name.Contains("tokens_per_s") || name.Contains("_over_") || name.EndsWith("_median") ||
        name.Contains("memory") || name.Contains("ratio");

    static IEnumerable<string[]> Rows(IReadOnlyList<BenchRecord> records) => records.Select(r => new[]
    {
        r.Started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), r.GitCommit is { } c ? c[..Math.Min(7, c.Length)] : "–",
        r.Cpu ?? "–", r.Cores?.ToString(CultureInfo.InvariantCulture) ?? "–", r.Command, r.Arguments, r.Precision ?? "–",
        string.Join(", ", r.Figures.Where(f => Headline(f.Key))
            .Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key} {f.Value:G6}"))),
    });

    public static Table Table(IReadOnlyList<BenchRecord> records)
    {
        var table = new Table { Title = new TableTitle($"{records.Count} benchmark results") }.AddColumns(Columns);
        foreach (var row in Rows(records)) table.AddRow([.. row.Select(Markup.Escape)]);
        return table;
    }

    public static string Markdown(IReadOnlyList<BenchRecord> records)
    {
        var md = new StringBuilder($"| {string.Join(" | ", Columns)} |\n|{string.Concat(Columns.Select(_ => "---|"))}\n");
        foreach (var row in Rows(records)) md.AppendLine($"| {string.Join(" | ", row.Select(c => c.Replace("|", "\\|")))} |");
        return md.ToString();
    }
}
