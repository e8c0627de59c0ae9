using System.Globalization;
using Spectre.Console;

namespace PluginGpt.Host.Bench;

/// <summary>A comparison as people read it: one row per command with its figure's min, median and max over the rounds, and its
/// ratio to the first command's (the median of the per-round ratios, with their range).</summary>
public static class ComparisonTable
{
    /// <summary>The table of <paramref name="results"/> (at least one; the first is the reference).</summary>
    public static Table Build(IReadOnlyList<ComparedFigures> results)
    {
        if (results.Count == 0) throw new ArgumentException("a comparison needs at least one command", nameof(results));
        var table = new Table()
            .AddColumn("command").AddColumn("figure")
            .AddColumn(new TableColumn("min").RightAligned()).AddColumn(new TableColumn("median").RightAligned())
            .AddColumn(new TableColumn("max").RightAligned())
            .AddColumn(new TableColumn("÷ first, per round").RightAligned().NoWrap())
            .Caption(Markup.Escape($"first: {results[0].Command.Label}; ratios: median [min–max] over the rounds"));
        foreach (var r in results)
            table.AddRow(Markup.Escape(r.Command.Label), Markup.Escape(r.Command.Figure), Number(r.Values.Min()),
                Number(Median(r.Values)), Number(r.Values.Max()), Markup.Escape(RatioCell(r, r == results[0])));
        return table;
    }

    static string RatioCell(ComparedFigures r, bool isFirst)
    {
        if (isFirst) return "1.000×";
        var ratios = r.RatiosToFirst;
        return ratios.Count == 0 ? "n/a (the first figure was 0)"
            : $"{Ratio(Median(ratios))}× [{Ratio(ratios.Min())}–{Ratio(ratios.Max())}]";
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static string Number(double v) => v.ToString(Math.Abs(v) >= 100 ? "#,0" : "0.###", CultureInfo.InvariantCulture);

    static string Ratio(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
