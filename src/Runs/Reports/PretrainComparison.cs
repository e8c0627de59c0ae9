using System.Globalization;
using System.Text;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs.Reports;

/// <summary>
/// Pre-training runs side by side (shapes compared at one budget): <c>DIR/pretrain-comparison.png</c> draws each run's held-out
/// loss against its training time and <c>.md</c> tabulates size, throughput, tokens and final held-out losses. Training time is
/// steps × the run's median step time, so a pause of the machine (another job, a suspended process) does not count.
/// </summary>
public static class PretrainComparison
{
    public sealed record Run(string Name, long Parameters, long EmbeddingParameters, int Steps, long Tokens, double MedianStepSeconds,
        double? HeldOut, IReadOnlyDictionary<string, double> PerCorpus, (double Seconds, double Loss)[] Curve, string Shape);

    public static Run Read(string directory)
    {
        var rows = RunFiles.ReadLines(Path.Combine(directory, RunFiles.MetricsLines)).Where(r => r.Step is not null).ToList();
        if (rows.Count == 0) throw new UserInputException($"{directory}: no training steps in {RunFiles.MetricsLines}");
        var config = GptCheckpoint.ReadConfig(directory);
        using var model = GptCheckpoint.Load(directory);
        long total = model.DistinctParameters().Sum(p => p.Parameter.numel());
        long embedding = (long)config.Vocab * config.ModelDim * (config.TiedHead ? 1 : 2)
            + (config.IsLlamaFamily ? 0 : (long)config.Context * config.ModelDim);
        var stepTimes = rows.Where(r => r.StepSeconds is > 0).Select(r => r.StepSeconds!.Value).Order().ToList();
        double median = stepTimes.Count == 0 ? 0 : stepTimes[stepTimes.Count / 2];
        var stored = Pretrainer.StoredOptions(directory);
        int block = stored is { BlockSize: > 0 } ? Math.Min(stored.BlockSize, config.Context) : config.Context;
        long tokens = (long)rows.Max(r => r.Step!.Value) * (stored?.BatchSize ?? 0) * block;
        var held = rows.Where(r => r.ValidationLoss is not null).ToList();
        string shape = $"{config.ModelType} L{config.Layers} d{config.ModelDim} h{config.Heads}" +
            (config.IsLlamaFamily ? $"/{config.KeyValueHeads}" : "") + $" ffn{config.InnerDim} ctx{config.Context} V{config.Vocab}";
        return new Run(Path.GetFileName(Path.GetFullPath(directory)), total, embedding, rows.Max(r => r.Step!.Value), tokens, median,
            held.LastOrDefault()?.ValidationLoss, held.LastOrDefault()?.Eval ?? new Dictionary<string, double>(),
            [.. held.Select(r => (r.Step!.Value * median, r.ValidationLoss!.Value))], shape);
    }

    public static (string Png, string Markdown) Write(IReadOnlyList<string> runDirectories, string outputDirectory)
    {
        var runs = runDirectories.Select(Read).ToList();
        Directory.CreateDirectory(outputDirectory);
        var series = runs.Select(r => new LineChart.Series($"{r.Name} ({r.Parameters / 1e6:F1} M)",
            [.. r.Curve.Select(c => c.Seconds / 60)], [.. r.Curve.Select(c => c.Loss)])).ToArray();
        var png = LineChart.Write(Path.Combine(outputDirectory, "pretrain-comparison.png"), "Held-out loss at equal training time",
            "training time (minutes, steps × median step time)", "held-out loss (mixture)", series);
        var corpora = runs.SelectMany(r => r.PerCorpus.Keys).Distinct().ToList();
        var md = new StringBuilder();
        md.AppendLine("| run | shape | parameters | of which embedding | steps | tokens | tokens/s | held-out loss |" +
            string.Concat(corpora.Select(c => $" {c} |")));
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|" + string.Concat(corpora.Select(_ => "---:|")));
        foreach (var r in runs.OrderBy(r => r.HeldOut ?? double.MaxValue))
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Shape} | {r.Parameters:N0} | {r.EmbeddingParameters:N0} | {r.Steps} | {r.Tokens:N0} | " +
                $"{(r.MedianStepSeconds > 0 ? r.Tokens / (r.Steps * r.MedianStepSeconds) : 0):F0} | {r.HeldOut:F3} |") +
                string.Concat(corpora.Select(c => r.PerCorpus.TryGetValue(c, out var l)
                    ? string.Create(CultureInfo.InvariantCulture, $" {l:F3} |") : " – |")));
        var mdPath = Path.Combine(outputDirectory, "pretrain-comparison.md");
        AtomicFile.WriteAllText(mdPath, md.ToString());
        return (png, mdPath);
    }
}
