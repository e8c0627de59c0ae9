using System.Globalization;
using System.Text;
using PluginGpt.Core.Training;

namespace PluginGpt.Host.Reports;

/// <summary>
/// Turns a run's <c>metrics.jsonl</c> into <c>loss.png</c> and <c>loss.md</c>: for pre-training the train and held-out
/// loss, for fine-tuning the train loss and each epoch's evaluation metrics.
/// </summary>
public static class LossReport
{
    public static (string Png, string Markdown) Write(string runDirectory)
    {
        var rows = RunFiles.ReadLines(Path.Combine(runDirectory, RunFiles.MetricsLines));
        var steps = rows.Where(r => r is { Loss: not null, Step: not null }).ToList();
        var train = new LineChart.Series("train loss", steps.Select(r => (double)r.Step!.Value).ToArray(),
            steps.Select(r => r.Loss!.Value).ToArray());
        var heldOut = steps.Where(r => r.ValidationLoss is not null).ToList();
        var evals = rows.Where(r => r.Eval is not null).ToList();

        var md = new StringBuilder();
        if (evals.Count > 0)
        {
            // Fine-tuning: one row per epoch with every metric the task reported.
            var names = evals[0].Eval!.Keys.ToList();
            md.AppendLine("| epoch | " + string.Join(" | ", names) + " |").AppendLine("|---:|" + string.Concat(names.Select(_ => "---:|")));
            foreach (var e in evals)
                md.AppendLine($"| {e.Epoch} | "
                    + string.Join(" | ", names.Select(n => e.Eval![n].ToString("F4", CultureInfo.InvariantCulture))) + " |");
        }
        else
        {
            md.AppendLine("| step | train loss | held-out loss | perplexity | tokens/s |").AppendLine("|---:|---:|---:|---:|---:|");
            foreach (var e in heldOut)
            {
                double v = e.ValidationLoss!.Value;
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {e.Step} | {e.Loss:F3} | {v:F3} | {Math.Exp(v):F1} | {e.TokensPerSecond:F0} |"));
            }
        }
        var png = LineChart.Write(Path.Combine(runDirectory, "loss.png"), evals.Count > 0 ? "Fine-tuning loss" : "Pre-training loss",
            "step", "loss", train,
            new LineChart.Series("held-out loss", heldOut.Select(r => (double)r.Step!.Value).ToArray(),
                heldOut.Select(r => r.ValidationLoss!.Value).ToArray(), Points: true));
        var mdPath = Path.Combine(runDirectory, "loss.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        return (png, mdPath);
    }
}
