namespace PluginGpt.Host.Results;

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
    public required string PrimaryMetric { get; init; }
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    public double? PrimaryScore => Metrics.TryGetValue(PrimaryMetric, out var v) ? v : null;
}
