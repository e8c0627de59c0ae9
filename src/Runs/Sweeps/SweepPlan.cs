using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Runs.Sweeps;

/// <summary>
/// What a sweep runs, written into its folder before the first run (<c>sweep-plan.json</c>, and the experiment file as it was
/// in <c>experiment.json</c>): each combination's overrides and run folder. Slurm array tasks run from it, and
/// <c>sweep --collect</c> reads it back to tell finished runs from failed and missing ones.
/// </summary>
public sealed record SweepPlan(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("runs")] IReadOnlyList<SweepPlan.Run> Runs)
{
    public const string FileName = "sweep-plan.json", ExperimentCopy = "experiment.json";

    /// <summary>One combination: its array index, label, run folder (relative to the sweep folder) and every <c>--set</c> it
    /// runs with (the shared ones first).</summary>
    public sealed record Run(
        [property: JsonPropertyName("index")] int Index,
        [property: JsonPropertyName("label")] string Label,
        [property: JsonPropertyName("folder")] string Folder,
        [property: JsonPropertyName("overrides")] IReadOnlyList<string> Overrides);

    public static SweepPlan Create(string name, string source, IReadOnlyList<IReadOnlyList<string>> combinations,
        IReadOnlyList<string> shared) =>
        new(name, Path.GetFullPath(source), DateTimeOffset.Now, [.. combinations.Select((c, i) =>
            new Run(i, SweepGrid.Label(c), $"{i + 1:D2}-{SweepGrid.Label(c)}", [.. shared, .. c]))]);

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes the plan and the experiment file's <paramref name="text"/> (as it was checked) into
    /// <paramref name="directory"/>, so the runs use it even if the file is edited while they wait in a queue.</summary>
    public void Write(string directory, string text)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, ExperimentCopy), text);
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));
    }

    public static SweepPlan Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new UserInputException($"{Path.GetFullPath(directory)}: not a sweep folder (no {FileName})");
        try
        {
            var plan = JsonSerializer.Deserialize<SweepPlan>(File.ReadAllText(path));
            if (plan?.Runs is null || plan.Runs.Count == 0) throw new DataException($"{path}: runs: none");
            for (int i = 0; i < plan.Runs.Count; i++)
            {
                void Check(bool ok, string field, string expectation)
                {
                    if (!ok) throw new DataException($"{path}: runs[{i}]{field}: {expectation}");
                }
                var run = plan.Runs[i];
                Check(run is not null, "", "missing");
                Check(run!.Index == i, ".index", $"expected {i}");
                Check(run.Label is { Length: > 0 }, ".label", "missing");
                Check(run.Overrides is not null, ".overrides", "missing");
                // A run folder stays inside the sweep folder.
                Check(run.Folder is { Length: > 0 } f && !Path.IsPathRooted(f) && !f.Split('/', '\\').Contains(".."), ".folder",
                    "expected a folder name inside the sweep folder");
            }
            return plan;
        }
        catch (JsonException e) { throw new DataException($"{path}: not a sweep plan ({e.Message.Split(" Path:")[0]})"); }
    }
}
