using System.Globalization;
using Spectre.Console;

namespace PluginGpt.Host.Bench;

/// <summary>A comparison as people read it: one row per command with its figure's min, median and max over the rounds, and its
/// ratio to the first command's (the median of the per-round ratios, with their range).</summary>
public static class ComparisonTable
{
    public static Table Build(IReadOnlyList<ComparedFigures> results)
    {
        var reference = results[0].Command.Label;
        var table = new Table()
            .AddColumn("command").AddColumn("figure")
            .AddColumn(new TableColumn("min").RightAligned()).AddColumn(new TableColumn("median").RightAligned())
            .AddColumn(new TableColumn("max").RightAligned())
            .AddColumn(new TableColumn(Markup.Escape($"÷ {reference}, per round: median [min–max]")).RightAligned());
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Command.Label), Markup.Escape(r.Command.Figure), Number(r.Values.Min()),
                Number(Median(r.Values)), Number(r.Values.Max()),
                r == results[0] ? "1" : Markup.Escape(
                    $"{Ratio(Median(r.RatiosToFirst))}× [{Ratio(r.RatiosToFirst.Min())}–{Ratio(r.RatiosToFirst.Max())}]"));
        return table;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static string Number(double v) => v.ToString(Math.Abs(v) >= 100 ? "#,0" : "0.###", CultureInfo.InvariantCulture);

    static string Ratio(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
