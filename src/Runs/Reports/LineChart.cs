namespace PluginGpt.Runs.Reports;

/// <summary>One PNG of line/point series (ScottPlot), written to a temp file and renamed.</summary>
public static class LineChart
{
    public sealed record Series(string Label, double[] X, double[] Y, bool Points = false);

    public static string Write(string path, string title, string xLabel, string yLabel, params Series[] series)
    {
        var plot = new ScottPlot.Plot();
        foreach (var s in series.Where(s => s.X.Length > 0))
        {
            if (s.Points) plot.Add.Scatter(s.X, s.Y).LegendText = s.Label;
            else plot.Add.ScatterLine(s.X, s.Y).LegendText = s.Label;
        }
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Title(title);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return Save(plot, path, 800, 500);
    }

    /// <summary>Writes the PNG beside the target and renames it over, so a reader never sees half a chart.</summary>
    public static string Save(ScottPlot.Plot plot, string path, int width, int height)
    {
        if (Directory.Exists(path)) throw new OptionsException($"{path}: a folder; a chart needs a file name (….png)");
        var tmp = path + ".tmp.png";
        try
        {
            plot.SavePng(tmp, width, height);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);   // no half chart left beside the target
            throw;
        }
        return path;
    }
}
