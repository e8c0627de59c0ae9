using System.Globalization;
using System.Text;
using System.Text.Json;
using PluginGpt.Core.Checkpoints;

namespace PluginGpt.Host.Reports;

/// <summary>
/// Turns a run's <c>metrics.jsonl</c> into <c>loss.png</c> and <c>loss.md</c>: for pre-training the train and held-out
/// loss, for fine-tuning the train loss and each epoch's evaluation metrics.
/// </summary>
public static class LossReport
{
    public static (string Png, string Markdown) Write(string runDirectory)
    {
        var rows = File.ReadAllLines(Path.Combine(runDirectory, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var steps = rows.Where(r => r.TryGetProperty("loss", out _)).ToList();
        var train = new LineChart.Series("train loss", steps.Select(r => (double)r.GetProperty("step").GetInt32()).ToArray(), steps.Select(r => r.GetProperty("loss").GetDouble()).ToArray());
        var heldOut = steps.Where(r => r.TryGetProperty("val_loss", out var v) && v.ValueKind == JsonValueKind.Number).ToList();
        var evals = rows.Where(r => r.TryGetProperty("eval", out _)).ToList();

        var md = new StringBuilder();
        if (evals.Count > 0)
        {
            // Fine-tuning: one row per epoch with every metric the task reported.
            var names = evals[0].GetProperty("eval").EnumerateObject().Select(p => p.Name).ToList();
            md.AppendLine("| epoch | " + string.Join(" | ", names) + " |").AppendLine("|---:|" + string.Concat(names.Select(_ => "---:|")));
            foreach (var e in evals)
                md.AppendLine($"| {e.GetProperty("epoch").GetInt32()} | " + string.Join(" | ", names.Select(n => e.GetProperty("eval").GetProperty(n).GetDouble().ToString("F4", CultureInfo.InvariantCulture))) + " |");
        }
        else
        {
            md.AppendLine("| step | train loss | held-out loss | perplexity | tokens/s |").AppendLine("|---:|---:|---:|---:|---:|");
            foreach (var e in heldOut)
            {
                double v = e.GetProperty("val_loss").GetDouble();
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {e.GetProperty("step").GetInt32()} | {e.GetProperty("loss").GetDouble():F3} | {v:F3} | {Math.Exp(v):F1} | {e.GetProperty("tokens_per_s").GetDouble():F0} |"));
            }
        }
        var png = LineChart.Write(Path.Combine(runDirectory, "loss.png"), evals.Count > 0 ? "Fine-tuning loss" : "Pre-training loss", "step", "loss", train,
            new LineChart.Series("held-out loss", heldOut.Select(r => (double)r.GetProperty("step").GetInt32()).ToArray(), heldOut.Select(r => r.GetProperty("val_loss").GetDouble()).ToArray(), Points: true));
        var mdPath = Path.Combine(runDirectory, "loss.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        return (png, mdPath);
    }
}
