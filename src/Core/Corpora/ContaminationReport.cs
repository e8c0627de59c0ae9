using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Core.Corpora;

/// <summary><c>contamination.json</c> in a pre-trained model's folder: which evaluation sets its corpora were checked against
/// (files and how many texts) and which documents were left out for holding one of their texts.</summary>
public sealed record ContaminationReport
{
    public const string FileName = "contamination.json";

    [JsonPropertyName("evaluation_files")] public required IReadOnlyList<string> EvaluationFiles { get; init; }
    [JsonPropertyName("evaluation_texts_checked")] public int EvaluationTexts { get; init; }
    [JsonPropertyName("minimum_chars")] public int MinimumChars { get; init; } = EvaluationTextIndex.MinimumChars;
    [JsonPropertyName("corpora")] public required IReadOnlyDictionary<string, IReadOnlyList<DroppedDocument>> Dropped { get; init; }

    public static void Write(string directory, EvaluationTextIndex index, IReadOnlyList<CorpusSource> sources,
        IReadOnlyList<EncodedCorpus> encoded)
    {
        var report = new ContaminationReport
        {
            EvaluationFiles = [.. index.Files.Select(f => $"{Path.GetFileName(Path.GetDirectoryName(f))}/{Path.GetFileName(f)}")],
            EvaluationTexts = index.Count,
            Dropped = sources.Select((s, i) => (s.Name, encoded[i].Dropped)).DistinctBy(p => p.Name)
                .ToDictionary(p => p.Name, p => p.Dropped),
        };
        AtomicFile.WriteAllText(Path.Combine(directory, FileName),
            JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
    }

    public static ContaminationReport? Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? JsonSerializer.Deserialize<ContaminationReport>(File.ReadAllText(path)) : null;
    }
}
