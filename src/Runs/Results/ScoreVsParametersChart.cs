using System.Globalization;

namespace PluginGpt.Runs.Results;

/// <summary>Score against trainable parameters, one colour per method (the chart PEFT users ask for): log-scaled x, since methods
/// differ by orders of magnitude.</summary>
public static class ScoreVsParametersChart
{
    public static string Write(string path, IReadOnlyList<RunRecord> runs)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var scored = runs.Where(r => r.PrimaryScore is not null && r.TrainableParameters > 0).ToList();
        int i = 0;
        foreach (var method in scored.GroupBy(r => r.Method).OrderBy(g => g.Key))
        {
            double[] xs = [.. method.Select(r => Math.Log10(r.TrainableParameters))];
            double[] ys = [.. method.Select(r => r.PrimaryScore!.Value * 100)];
            var points = plot.Add.ScatterPoints(xs, ys, palette.GetColor(i++));
            points.LegendText = method.Key;
            points.MarkerSize = 9;
        }
        // ScottPlot has no log axis: plot log10(x) and label the ticks with the counts themselves.
        if (scored.Count > 0)
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            int low = (int)Math.Floor(scored.Min(r => Math.Log10(r.TrainableParameters)));
            int high = (int)Math.Ceiling(scored.Max(r => Math.Log10(r.TrainableParameters)));
            for (int p = low; p <= high; p++) ticks.AddMajor(p, Math.Pow(10, p).ToString("N0", CultureInfo.InvariantCulture));
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        var metrics = scored.Select(r => r.PrimaryMetric).Distinct().ToList();
        plot.XLabel("trainable parameters (log scale)");
        plot.YLabel($"{(metrics.Count == 1 ? metrics[0] : "primary metric")} (%)");
        plot.Title($"score against trainable parameters ({scored.Count} runs)");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return Reports.LineChart.Save(plot, path, 800, 500);
    }
}
