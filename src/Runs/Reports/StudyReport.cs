using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace PluginGpt.Runs.Reports;

/// <summary>One series' score in one finished run of a study.</summary>
public sealed record StudyScore(
    [property: JsonPropertyName("group")] string Group,
    [property: JsonPropertyName("series")] string Series,
    [property: JsonPropertyName("x")] double X,
    [property: JsonPropertyName("seed")] int Seed,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("run")] string Run);

/// <summary>Mean ± sample standard deviation of a series at one x over the seeds that finished.</summary>
public sealed record StudyCell(
    [property: JsonPropertyName("group")] string Group,
    [property: JsonPropertyName("series")] string Series,
    [property: JsonPropertyName("x")] double X,
    [property: JsonPropertyName("metric")] string Metric,
    [property: JsonPropertyName("mean")] double Mean,
    [property: JsonPropertyName("std")] double Std,
    [property: JsonPropertyName("n")] int N);

/// <summary>A study compared: per group a console table and a Markdown table (series × x, mean ± std over seeds, ×100), all in
/// <c>study.md</c>; every score and cell in <c>study.json</c>; per group a chart <c>study-GROUP.png</c> of the score against x,
/// one line per series with ±1 std error bars.</summary>
public static class StudyReport
{
    public static IReadOnlyList<StudyCell> Cells(IEnumerable<StudyScore> scores) => scores
        .GroupBy(s => (s.Group, s.Series, s.X))
        .Select(g =>
        {
            var values = g.Select(s => s.Value).ToList();
            double mean = values.Average();
            double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
            return new StudyCell(g.Key.Group, g.Key.Series, g.Key.X, g.First().Metric, mean, std, values.Count);
        }).ToList();

    public static IReadOnlyList<string> Write(IAnsiConsole console, string directory, string title, string xLabel,
        IReadOnlyList<string> seriesOrder, int seeds, IReadOnlyList<StudyScore> scores, string? note)
    {
        var cells = Cells(scores);
        var files = new List<string>();
        var md = new StringBuilder($"# {title}\n\n");
        if (note is not null) md.AppendLine(note).AppendLine();
        foreach (var group in cells.Select(c => c.Group).Distinct())
        {
            var inGroup = cells.Where(c => c.Group == group).ToList();
            var xs = inGroup.Select(c => c.X).Distinct().Order().ToList();
            var series = seriesOrder.Where(s => inGroup.Any(c => c.Series == s)).ToList();
            string metric = inGroup[0].Metric;
            // Cells with fewer seeds than planned (an unfinished study) say so; one seed has no spread to show.
            string Cell(string s, double x) => inGroup.FirstOrDefault(c => c.Series == s && c.X == x) is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"{c.Mean * 100:F1} ± {(c.N > 1 ? $"{c.Std * 100:F1}" : "–")}")
                    + (c.N < seeds ? $" (n={c.N})" : "")
                : "–";
            var headers = xs.Select(x => $"{xLabel} = {x.ToString(CultureInfo.InvariantCulture)}").ToList();

            var table = new Table { Title = new TableTitle($"{group}: {metric} ×100, mean ± std over seeds") }
                .AddColumn("series");
            foreach (var header in headers) table.AddColumn(new TableColumn(Markup.Escape(header)).RightAligned());
            foreach (var s in series) table.AddRow([Markup.Escape(s), .. xs.Select(x => Cell(s, x))]);
            console.Write(table);

            md.AppendLine($"## {group} ({metric} ×100, mean ± std over seeds)\n");
            md.AppendLine("| series | " + string.Join(" | ", headers.Select(MarkdownCell)) + " |");
            md.AppendLine("|---|" + string.Concat(xs.Select(_ => "---:|")));
            foreach (var s in series) md.AppendLine($"| {MarkdownCell(s)} | " + string.Join(" | ", xs.Select(x => Cell(s, x))) + " |");
            md.AppendLine();
            files.Add(Chart(Path.Combine(directory, $"study-{group}.png"), $"{title}: {group}", xLabel, metric, series, inGroup));
        }
        var markdown = Path.Combine(directory, "study.md");
        AtomicFile.WriteAllText(markdown, md.ToString());
        var json = Path.Combine(directory, "study.json");
        AtomicFile.WriteAllText(json, JsonSerializer.Serialize(new { cells, scores }, new JsonSerializerOptions { WriteIndented = true }));
        return [markdown, json, .. files];
    }

    /// <summary>Text in a Markdown table cell: a "|" (as in |T|) would start a new column.</summary>
    static string MarkdownCell(string text) => text.Replace("|", "\\|");

    static string Chart(string path, string title, string xLabel, string metric, IReadOnlyList<string> series,
        IReadOnlyList<StudyCell> cells)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var points = cells.Where(c => c.Series == series[i]).OrderBy(c => c.X).ToList();
            double[] xs = [.. points.Select(c => c.X)], ys = [.. points.Select(c => c.Mean * 100)];
            var color = palette.GetColor(i);
            var line = plot.Add.Scatter(xs, ys, color);
            line.LegendText = series[i];
            var bars = plot.Add.ErrorBar(xs, ys, [.. points.Select(c => c.Std * 100)]);
            bars.Color = color;
        }
        if (cells.Select(c => c.X).Distinct().All(x => x > 0)) plot.Axes.Bottom.TickGenerator = ValueTicks(cells);
        plot.XLabel(xLabel);
        plot.YLabel($"{metric} (%)");
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return LineChart.Save(plot, path, 900, 560);
    }

    /// <summary>Ticks at the x values themselves (|T| = 10, 32, 100 are not evenly spaced).</summary>
    static ScottPlot.TickGenerators.NumericManual ValueTicks(IReadOnlyList<StudyCell> cells)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var x in cells.Select(c => c.X).Distinct().Order()) ticks.AddMajor(x, x.ToString(CultureInfo.InvariantCulture));
        return ticks;
    }
}
