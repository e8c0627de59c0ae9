namespace PluginGpt.Runs.Reports;

/// <summary>Bars of several series side by side per group (a score per task, one colour per run or stage), as a ScottPlot PNG.</summary>
public static class GroupedBarChart
{
    /// <param name="series">per series its name and one value (0–1, shown ×100) per group, null where it has none.</param>
    public static string Write(string path, string title, string yLabel, IReadOnlyList<string> groups,
        IReadOnlyList<(string Name, double?[] Values)> series)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / Math.Max(1, series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var at = Enumerable.Range(0, groups.Count).Where(g => series[s].Values[g] is not null).ToList();
            if (at.Count == 0) continue;
            double offset = (s - (series.Count - 1) / 2.0) * width;
            var bars = plot.Add.Bars([.. at.Select(g => g + offset)], [.. at.Select(g => series[s].Values[g]!.Value * 100)]);
            bars.LegendText = series[s].Name;
            bars.Color = palette.GetColor(s);
            foreach (var bar in bars.Bars) bar.Size = width * 0.9;
        }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, groups.Count).Select(g => (double)g)], [.. groups]);
        plot.YLabel(yLabel);
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return LineChart.Save(plot, path, Math.Max(700, 120 * groups.Count * Math.Max(1, series.Count) / 2 + 300), 480);
    }
}
