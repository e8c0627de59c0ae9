using System.Globalization;
using System.Text;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs.Reports;

/// <summary>
/// Turns a run's <c>metrics.jsonl</c> into <c>loss.png</c> and <c>loss.md</c>. The chart draws what happened, step by step: the
/// loss of every step (faint) under a moving average, the objective's loss terms (L3's task and λ·LM) when it has several, the
/// held-out loss (pre-training), the dev set's primary metric after each epoch (fine-tuning, right axis) and the learning rate
/// (its own right axis); <c>loss.md</c> has every epoch's metrics, or the held-out evaluations.
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
        // Fine-tuning's dev metrics (pre-training's per-corpus held-out losses come with a held-out loss).
        var evals = rows.Where(r => r.Eval is not null && r.ValidationLoss is null).ToList();
        var corpora = heldOut.Where(r => r.Eval is not null).SelectMany(r => r.Eval!.Keys).Distinct().ToList();

        var md = new StringBuilder();
        if (evals.Count > 0)
        {
            // Fine-tuning: one row per evaluation (epoch, and step when scored by steps) with every metric the task reported.
            var names = evals[0].Eval!.Keys.ToList();
            md.AppendLine("| epoch | step | " + string.Join(" | ", names) + " |")
                .AppendLine("|---:|---:|" + string.Concat(names.Select(_ => "---:|")));
            foreach (var e in evals)
                md.AppendLine($"| {e.Epoch} | {EvaluatedAt(e, steps)} | " + string.Join(" | ", names.Select(n =>
                    e.Eval!.TryGetValue(n, out var v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–")) + " |");
        }
        else
        {
            md.AppendLine("| step | train loss | held-out loss | perplexity | tokens/s |" + string.Concat(corpora.Select(c => $" {c} |")))
                .AppendLine("|---:|---:|---:|---:|---:|" + string.Concat(corpora.Select(_ => "---:|")));
            foreach (var e in heldOut)
            {
                double v = e.ValidationLoss!.Value;
                md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {e.Step} | {e.Loss:F3} | {v:F3} | {Math.Exp(v):F1} | {e.TokensPerSecond:F0} |") + string.Concat(corpora.Select(c =>
                    e.Eval?.TryGetValue(c, out var l) == true ? string.Create(CultureInfo.InvariantCulture, $" {l:F3} |") : " – |")));
            }
            if (corpora.Count > 0)
                md.AppendLine().AppendLine("Held-out loss is the mixture-weighted mean of the corpora's own held-out losses.");
        }
        // The dev metric drawn is the run's primary one (metrics.json is written before this report).
        var summary = Path.Combine(runDirectory, RunFiles.Summary);
        string? primary = File.Exists(summary) ? RunFiles.ReadSummary(runDirectory).PrimaryMetric : null;
        var png = Chart(Path.Combine(runDirectory, "loss.png"), steps, heldOut, evals, primary, corpora);
        var mdPath = Path.Combine(runDirectory, "loss.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        return (png, mdPath);
    }

    /// <summary>The step an evaluation scored: written with it (since evaluation by steps), else its epoch's last step.</summary>
    static int EvaluatedAt(MetricsLine evaluation, IReadOnlyList<MetricsLine> steps) =>
        evaluation.Step ?? steps.Where(s => s.Epoch <= evaluation.Epoch).Select(s => s.Step!.Value).DefaultIfEmpty(0).Max();

    static string Chart(string path, IReadOnlyList<MetricsLine> steps, IReadOnlyList<MetricsLine> heldOut,
        IReadOnlyList<MetricsLine> evals, string? primary, IReadOnlyList<string> corpora)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int parts = AddTrainingLoss(plot, palette, steps);
        AddHeldOut(plot, palette, heldOut, corpora, firstColor: 2 + parts);
        plot.YLabel("loss");
        plot.XLabel("step");
        AddDevMetric(plot, palette, steps, evals, primary);
        AddLearningRate(plot, palette, steps);
        AddThroughput(plot, palette, steps);
        plot.Title(evals.Count > 0 || heldOut.Count == 0 ? "Fine-tuning" : "Pre-training");
        plot.ShowLegend(ScottPlot.Edge.Bottom);
        return LineChart.Save(plot, path, 900, 560);
    }

    /// <summary>The loss per step with its moving average, and each loss term's (L1, L2 of an auxiliary objective) as dashed
    /// lines; returns how many terms there were (their colours come before the held-out corpora's).</summary>
    static int AddTrainingLoss(ScottPlot.Plot plot, ScottPlot.IPalette palette, IReadOnlyList<MetricsLine> steps)
    {
        double[] xs = [.. steps.Select(r => (double)r.Step!.Value)];
        double[] losses = [.. steps.Select(r => r.Loss!.Value)];
        if (steps.Count > 0)   // a run cancelled before its first step has none
        {
            var raw = plot.Add.ScatterLine(xs, losses, palette.GetColor(0).WithAlpha(0.25));
            raw.LegendText = "loss per step";
            var smooth = plot.Add.ScatterLine(xs, MovingAverage(losses), palette.GetColor(0));
            smooth.LineWidth = 2;
            smooth.LegendText = Window(losses.Length) > 1 ? $"loss, mean of {Window(losses.Length)} steps" : "loss";
        }
        var partNames = steps.Where(r => r.Parts is not null).SelectMany(r => r.Parts!.Keys).Distinct().ToList();
        for (int i = 0; i < partNames.Count; i++)
        {
            var with = steps.Where(r => r.Parts?.ContainsKey(partNames[i]) == true).ToList();
            double[] partSteps = [.. with.Select(r => (double)r.Step!.Value)];
            var smoothed = MovingAverage([.. with.Select(r => r.Parts![partNames[i]])]);
            var part = plot.Add.ScatterLine(partSteps, smoothed, palette.GetColor(2 + i));
            part.LinePattern = ScottPlot.LinePattern.Dashed;
            part.LegendText = $"{partNames[i]} term (mean)";
        }
        return partNames.Count;
    }

    /// <summary>Pre-training's held-out loss on the mixture, and per corpus as dashed lines.</summary>
    static void AddHeldOut(ScottPlot.Plot plot, ScottPlot.IPalette palette, IReadOnlyList<MetricsLine> heldOut,
        IReadOnlyList<string> corpora, int firstColor)
    {
        if (heldOut.Count == 0) return;
        double[] heldSteps = [.. heldOut.Select(r => (double)r.Step!.Value)];
        double[] heldLoss = [.. heldOut.Select(r => r.ValidationLoss!.Value)];
        var held = plot.Add.Scatter(heldSteps, heldLoss, palette.GetColor(1));
        held.LegendText = corpora.Count > 0 ? "held-out loss (mixture)" : "held-out loss";
        for (int c = 0; c < corpora.Count; c++)
        {
            var with = heldOut.Where(r => r.Eval?.ContainsKey(corpora[c]) == true).ToList();
            double[] at = [.. with.Select(r => (double)r.Step!.Value)], corpusLoss = [.. with.Select(r => r.Eval![corpora[c]])];
            var series = plot.Add.Scatter(at, corpusLoss, palette.GetColor(firstColor + c));
            series.LinePattern = ScottPlot.LinePattern.Dashed;
            series.LegendText = $"held-out: {corpora[c]}";
        }
    }

    /// <summary>The dev metric at each evaluation's step, on the right axis.</summary>
    static void AddDevMetric(ScottPlot.Plot plot, ScottPlot.IPalette palette, IReadOnlyList<MetricsLine> steps,
        IReadOnlyList<MetricsLine> evals, string? primary)
    {
        var metric = primary ?? evals.FirstOrDefault()?.Eval!.Keys.FirstOrDefault();
        var scored = evals.Where(e => metric is not null && e.Eval!.ContainsKey(metric)).ToList();   // an epoch without it: no point
        if (scored.Count == 0) return;
        double[] at = [.. scored.Select(e => (double)EvaluatedAt(e, steps))];
        double[] scores = [.. scored.Select(e => e.Eval![metric!])];
        var dev = plot.Add.Scatter(at, scores, palette.GetColor(1));
        dev.Axes.YAxis = plot.Axes.Right;
        dev.MarkerSize = 8;
        dev.LegendText = $"dev {metric} (first right axis)";
        plot.Axes.Right.Label.Text = $"dev {metric}";
        plot.Axes.SetLimitsY(Math.Min(0, scores.Min()), Math.Max(1, scores.Max()), plot.Axes.Right);   // scores in [0, 1] as such
    }

    /// <summary>The schedule's learning rate per step, on an axis of its own.</summary>
    static void AddLearningRate(ScottPlot.Plot plot, ScottPlot.IPalette palette, IReadOnlyList<MetricsLine> steps)
    {
        var withLr = steps.Where(r => r.LearningRate is not null).ToList();
        if (withLr.Count == 0) return;
        var lrAxis = plot.Axes.AddRightAxis();
        lrAxis.LabelText = "learning rate";
        double[] lrSteps = [.. withLr.Select(r => (double)r.Step!.Value)], rates = [.. withLr.Select(r => r.LearningRate!.Value)];
        var lr = plot.Add.ScatterLine(lrSteps, rates, palette.GetColor(7).WithAlpha(0.6));
        lr.Axes.YAxis = lrAxis;
        lr.LinePattern = ScottPlot.LinePattern.Dotted;
        lr.LegendText = "learning rate (right)";
    }

    /// <summary>Pre-training's tokens/s (moving average), on the farthest axis.</summary>
    static void AddThroughput(ScottPlot.Plot plot, ScottPlot.IPalette palette, IReadOnlyList<MetricsLine> steps)
    {
        var withRate = steps.Where(r => r.TokensPerSecond is > 0).ToList();
        if (withRate.Count == 0) return;
        var rateAxis = plot.Axes.AddRightAxis();
        rateAxis.LabelText = "tokens/s";
        double[] rateSteps = [.. withRate.Select(r => (double)r.Step!.Value)];
        var rate = plot.Add.ScatterLine(rateSteps, MovingAverage([.. withRate.Select(r => r.TokensPerSecond!.Value)]),
            palette.GetColor(5).WithAlpha(0.7));
        rate.Axes.YAxis = rateAxis;
        rate.LegendText = "tokens/s (farthest right)";
    }

    /// <summary>Steps a moving average spans: about a fiftieth of the run, at least 1.</summary>
    static int Window(int steps) => Math.Clamp(steps / 50, 1, 200);

    /// <summary>The trailing mean over <see cref="Window"/> steps (fewer at the start): smooth, and free of epoch boundaries.</summary>
    public static double[] MovingAverage(IReadOnlyList<double> values)
    {
        int window = Window(values.Count);
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
