using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Runs;

/// <summary>
/// <c>task.json</c> in a run folder: what a finished run needs of its task to label new examples — the task's name, input
/// format, label names and primary metric — so <c>predict</c>, <c>generate --run</c> and <c>export</c> work where the run's
/// training files are gone (a run folder copied to another machine). <c>evaluate</c> still reads the dev set itself.
/// </summary>
public sealed record RunTaskRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("format")] InputFormat Format,
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("primary_metric")] string PrimaryMetric)
{
    public const string FileName = "task.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public static void Write(string runDirectory, TaskData data) => AtomicFile.WriteAllText(Path.Combine(runDirectory, FileName),
        JsonSerializer.Serialize(new RunTaskRecord(data.Name, data.Format, data.Labels, data.PrimaryMetric), Json));

    /// <summary>The stored task as task data without examples, or null when the run has no (readable) record.</summary>
    public static TaskData? Read(string runDirectory)
    {
        var path = Path.Combine(runDirectory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            var r = JsonSerializer.Deserialize<RunTaskRecord>(File.ReadAllText(path), Json);
            return r is null ? null : new TaskData(r.Name, r.Format, r.Labels, [], [], r.PrimaryMetric);
        }
        catch (JsonException) { return null; }
    }
}
