namespace PluginGpt.Runs.Reports;

/// <summary>A bar chart of one score (0–1) per method or setting, with an optional majority-class line (ScottPlot PNG).</summary>
public static class MethodChart
{
    public static string Write(string path, IReadOnlyList<(string Method, double Value)> bars, double? baseline, string title)
    {
        var plot = new ScottPlot.Plot();
        var values = bars.Select(b => b.Value * 100).ToArray();
        plot.Add.Bars(values);
        if (baseline is { } b)
        {
            var line = plot.Add.HorizontalLine(b * 100);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.LegendText = $"majority class ({b:P1})";
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Method).ToArray());
        plot.Axes.SetLimitsY(Math.Min(0, values.Min()), 100);
        plot.YLabel("score (%)");
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return LineChart.Save(plot, path, Math.Max(700, 130 * bars.Count), 480);
    }
}
