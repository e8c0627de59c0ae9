using System.Text.Json;

namespace PluginGpt.Runs.Results;

/// <summary>One benchmark result in the results database: which bench command with which arguments, on which CPU (model and
/// cores), in which precision, at which commit, and its figures (name → number), so a regression between commits shows.</summary>
public sealed record BenchRecord
{
    public required string Id { get; init; }
    public required DateTime Started { get; init; }
    /// <summary>The bench subcommand: <c>train</c>, <c>generate</c>, <c>method</c>, <c>compare</c>, …</summary>
    public required string Command { get; init; }
    public required string Arguments { get; init; }
    public string? Cpu { get; init; }
    public int? Cores { get; init; }
    public string? Precision { get; init; }
    public string? GitCommit { get; init; }
    public required IReadOnlyDictionary<string, double> Figures { get; init; }

    /// <summary>A record of figures measured now on this machine, in the working directory's commit (text figures, such as the
    /// preset's name, are part of the arguments, not figures).</summary>
    public static BenchRecord Now(string command, IEnumerable<string> arguments, string? precision,
        IReadOnlyDictionary<string, object> figures) => new()
        {
            Id = Guid.NewGuid().ToString("N"),
            Started = DateTime.UtcNow,
            Command = command,
            Arguments = string.Join(' ', arguments),
            Cpu = Core.CpuFeatures.Model,
            Cores = Environment.ProcessorCount,
            Precision = precision,
            GitCommit = Results.GitCommit.Find(Environment.CurrentDirectory),
            Figures = figures.Where(f => f.Value is double or float or int or long or decimal)
            .ToDictionary(f => f.Key, f => Convert.ToDouble(f.Value, System.Globalization.CultureInfo.InvariantCulture)),
        };

    [System.Text.Json.Serialization.JsonIgnore] public string FiguresJson => JsonSerializer.Serialize(Figures);
}
