namespace PluginGpt.Runs.Results;

/// <summary>One row of the results database: a finished run (or a recipe's stage), what it was and what it scored.</summary>
public sealed record RunRecord
{
    public required string Id { get; init; }
    public required DateTime Started { get; init; }
    public string? GitCommit { get; init; }
    public required string Name { get; init; }
    public required string Folder { get; init; }
    /// <summary>The resolved experiment (config.json's text).</summary>
    public required string Config { get; init; }
    public required string Method { get; init; }
    public required string Objective { get; init; }
    public required string Task { get; init; }
    public required string Dataset { get; init; }
    public long TrainableParameters { get; init; }
    public long TotalParameters { get; init; }
    public required string Precision { get; init; }
    public double Seconds { get; init; }
    public double? Throughput { get; init; }
    public string? ThroughputUnit { get; init; }
    public int? Cores { get; init; }
    [System.Text.Json.Serialization.JsonPropertyName("matmul_gflops")] public double? MatmulGFlops { get; init; }
    /// <summary>Memory training added at its peak, MiB (metrics.json's <c>training_memory_mb</c>).</summary>
    [System.Text.Json.Serialization.JsonPropertyName("training_memory_mb")] public double? TrainingMemoryMb { get; init; }
    public required string PrimaryMetric { get; init; }
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    public double? PrimaryScore => Metrics.TryGetValue(PrimaryMetric, out var v) ? v : null;

    /// <summary>The row of the finished run in <paramref name="folder"/>: its <c>metrics.json</c> summary and <c>config.json</c>.
    /// </summary>
    public static RunRecord Of(string folder, PluginGpt.Core.Training.RunSummary summary, DateTime started,
        double? examplesPerSecond = null, double? matmulGFlops = null) => new()
        {
            Id = Guid.NewGuid().ToString("N"),
            Started = started,
            GitCommit = PluginGpt.Runs.Results.GitCommit.Find(Directory.GetCurrentDirectory()),
            Name = summary.Name,
            Folder = folder,
            Config = File.ReadAllText(System.IO.Path.Combine(folder, "config.json")),
            Method = summary.Method,
            Objective = summary.Objective,
            Task = summary.Task,
            Dataset = summary.Dataset,
            TrainableParameters = summary.TrainableParameters,
            TotalParameters = summary.TotalParameters,
            Precision = summary.Precision,
            Seconds = summary.Seconds,
            Throughput = examplesPerSecond,
            ThroughputUnit = examplesPerSecond is null ? null : "examples/s",
            Cores = Environment.ProcessorCount,
            MatmulGFlops = matmulGFlops,
            TrainingMemoryMb = summary.TrainingMemoryMb,
            PrimaryMetric = summary.PrimaryMetric,
            Metrics = summary.Metrics,
        };
}
