using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Core.Training;

/// <summary>
/// One line of <c>metrics.jsonl</c>. Pre-training writes step lines (loss, lr, throughput, held-out loss at evaluations);
/// fine-tuning writes step lines (epoch, step, loss, lr) and one line per evaluation (epoch, step, eval).
/// </summary>
public sealed record MetricsLine
{
    [JsonPropertyName("epoch")] public int? Epoch { get; init; }
    [JsonPropertyName("step")] public int? Step { get; init; }
    /// <summary>Fine-tuning: the optimizer step's own loss (the mean over its accumulated batches); pre-training: the step's
    /// loss.</summary>
    [JsonPropertyName("loss")] public double? Loss { get; init; }
    /// <summary>The objective's named loss terms at this step (e.g. <c>task</c> and <c>lm</c>), when it has several.</summary>
    [JsonPropertyName("parts")] public IReadOnlyDictionary<string, double>? Parts { get; init; }
    [JsonPropertyName("lr")] public double? LearningRate { get; init; }
    [JsonPropertyName("tokens_per_s")] public double? TokensPerSecond { get; init; }
    [JsonPropertyName("step_s")] public double? StepSeconds { get; init; }
    [JsonPropertyName("val_loss")] public double? ValidationLoss { get; init; }
    [JsonPropertyName("eval")] public IReadOnlyDictionary<string, double>? Eval { get; init; }
}

/// <summary><c>metrics.json</c>: what a finished run reports (its best epoch's metrics), read by sweeps, the quickstart and
/// reports.</summary>
public sealed record RunSummary
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("method")] public required string Method { get; init; }
    [JsonPropertyName("objective")] public required string Objective { get; init; }
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("dataset")] public required string Dataset { get; init; }
    [JsonPropertyName("best_epoch")] public int BestEpoch { get; init; }
    /// <summary>The optimizer step after which the reported (and kept) weights were scored.</summary>
    [JsonPropertyName("best_step")] public int BestStep { get; init; }
    /// <summary>Whether <c>training.early_stopping</c> ended the run before its planned steps.</summary>
    [JsonPropertyName("stopped_early")] public bool StoppedEarly { get; init; }
    /// <summary>Why the run ended before its planned steps (early stopping's or a callback's reason).</summary>
    [JsonPropertyName("stop_reason"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopReason { get; init; }
    /// <summary>Memory training added at its peak, in MiB (the process's resident-set high-water mark above its size when training
    /// began; CPU on Linux), null where not measured.</summary>
    [JsonPropertyName("training_memory_mb"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? TrainingMemoryMb { get; init; }
    [JsonPropertyName("metrics")] public required IReadOnlyDictionary<string, double> Metrics { get; init; }
    [JsonPropertyName("primary_metric")] public required string PrimaryMetric { get; init; }
    [JsonPropertyName("trainable_parameters")] public long TrainableParameters { get; init; }
    [JsonPropertyName("total_parameters")] public long TotalParameters { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    /// <summary>The precision the run computed in (<c>fp32</c> or <c>bf16</c>).</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";
    /// <summary>A recipe's stages in order (each pattern's model, ensembles, the distilled model); its metrics are the last's.</summary>
    [JsonPropertyName("stages"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<StageResult>? Stages { get; init; }

    [JsonIgnore] public double PrimaryScore => Metrics[PrimaryMetric];
}

/// <summary>Reads and writes the run files above (JSON Lines, one record a line; a torn last line from a crash is skipped).</summary>
public static class RunFiles
{
    public const string MetricsLines = "metrics.jsonl", Summary = "metrics.json";
    // Files people read: "lora+prefix", not "lora\u002Bprefix" (the default encoder escapes HTML-sensitive characters).
    static readonly JsonSerializerOptions Compact = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
    static readonly JsonSerializerOptions Indented = new(Compact) { WriteIndented = true };

    public static void Append(TextWriter writer, MetricsLine line) => writer.WriteLine(JsonSerializer.Serialize(line, Compact));

    /// <summary>Every complete line of <paramref name="path"/>; an unreadable final line (a crash mid-write) is dropped, any other is an
    /// error.</summary>
    public static IReadOnlyList<MetricsLine> ReadLines(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var records = new List<MetricsLine>();
        for (int i = 0; i < lines.Count; i++)
        {
            try { records.Add(JsonSerializer.Deserialize<MetricsLine>(lines[i], Compact)!); }
            catch (JsonException) when (i == lines.Count - 1) { }   // torn final record
            catch (JsonException e) { throw new DataException($"{path}:{i + 1}: not a metrics record ({e.Message})"); }
        }
        return records;
    }

    public static void WriteSummary(string runDirectory, RunSummary summary) =>
        AtomicFile.WriteAllText(Path.Combine(runDirectory, Summary), JsonSerializer.Serialize(summary, Indented));

    public static RunSummary ReadSummary(string runDirectory)
    {
        var path = Path.Combine(runDirectory, Summary);
        if (!File.Exists(path)) throw new DataException($"{path}: not found (the run did not finish)");
        try { return JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(path), Compact) ?? throw new DataException($"{path}: empty"); }
        catch (JsonException e) { throw new DataException($"{path}: {e.Message}"); }
    }
}
