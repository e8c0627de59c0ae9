using System.Globalization;
using System.Text;
using System.Text.Json;
using PluginGpt.Core.Checkpoints;

namespace PluginGpt.Host.Reports;

/// <summary>Turns a run's <c>metrics.jsonl</c> into <c>loss.png</c> (ScottPlot) and <c>loss.md</c> (a Markdown table).</summary>
public static class LossReport
{
    public static (string Png, string Markdown) Write(string runDirectory)
    {
        var rows = File.ReadAllLines(Path.Combine(runDirectory, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var steps = rows.Select(r => (double)r.GetProperty("step").GetInt32()).ToArray();
        var train = rows.Select(r => r.GetProperty("loss").GetDouble()).ToArray();
        var evals = rows.Where(r => r.TryGetProperty("val_loss", out var v) && v.ValueKind == JsonValueKind.Number)
            .Select(r => (Step: r.GetProperty("step").GetInt32(), Loss: r.GetProperty("val_loss").GetDouble(), Train: r.GetProperty("loss").GetDouble(),
                          TokensPerSecond: r.GetProperty("tokens_per_s").GetDouble()))
            .ToList();

        var plot = new ScottPlot.Plot();
        var trainLine = plot.Add.ScatterLine(steps, train);
        trainLine.LegendText = "train loss";
        if (evals.Count > 0)
        {
            var val = plot.Add.Scatter(evals.Select(e => (double)e.Step).ToArray(), evals.Select(e => e.Loss).ToArray());
            val.LegendText = "held-out loss";
        }
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.Title("Pre-training loss");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        var png = Path.Combine(runDirectory, "loss.png");
        var tmp = png + ".tmp.png";
        plot.SavePng(tmp, 800, 500);
        File.Move(tmp, png, overwrite: true);

        var md = new StringBuilder("| step | train loss | held-out loss | perplexity | tokens/s |\n|---:|---:|---:|---:|---:|\n");
        foreach (var e in evals)
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {e.Step} | {e.Train:F3} | {e.Loss:F3} | {Math.Exp(e.Loss):F1} | {e.TokensPerSecond:F0} |"));
        var mdPath = Path.Combine(runDirectory, "loss.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        return (png, mdPath);
    }
}
