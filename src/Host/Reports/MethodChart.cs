namespace PluginGpt.Host.Reports;

/// <summary>A bar chart of one score per method with the majority-class line (ScottPlot PNG).</summary>
public static class MethodChart
{
    public static string Write(string path, IReadOnlyList<(string Method, double Value)> bars, double baseline, string title)
    {
        var plot = new ScottPlot.Plot();
        var values = bars.Select(b => b.Value * 100).ToArray();
        plot.Add.Bars(values);
        var line = plot.Add.HorizontalLine(baseline * 100);
        line.LinePattern = ScottPlot.LinePattern.Dashed;
        line.LegendText = $"majority class ({baseline:P1})";
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Method).ToArray());
        plot.Axes.SetLimitsY(0, 100);
        plot.YLabel("accuracy (%)");
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 700, 450);
        File.Move(tmp, path, overwrite: true);
        return path;
    }
}
