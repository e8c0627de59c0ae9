using System.Text.Json.Serialization;

namespace PluginGpt.Runs.Sweeps;

/// <summary>
/// A study file: every experiment (a method, a recipe) run for every group (a data set), every x value (e.g. |T|) and every
/// seed, then compared as mean ± std over seeds. A recipe's stages can be series of their own (PET's ensemble, its distilled
/// model), so one PET run gives several rows.
/// </summary>
public sealed record StudySpec
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    /// <summary>Experiment files, relative to the study file; each experiment's <c>name</c> names its runs.</summary>
    [JsonPropertyName("experiments")] public required List<string> Experiments { get; init; }
    /// <summary>A group per data set (or any setting): its overrides, and optionally its own x values.</summary>
    [JsonPropertyName("groups")] public required Dictionary<string, StudyGroup> Groups { get; init; }
    [JsonPropertyName("x")] public required StudyAxis X { get; init; }
    [JsonPropertyName("seeds")] public List<int> Seeds { get; init; } = [1, 2, 3];
    /// <summary>Overrides shared by every run (<c>key=value</c>, as <c>--set</c>).</summary>
    [JsonPropertyName("set")] public List<string> Set { get; init; } = [];
    /// <summary>The compared rows; default: each experiment's primary metric.</summary>
    [JsonPropertyName("series")] public List<StudySeries>? Series { get; init; }
}

public sealed record StudyGroup
{
    [JsonPropertyName("set")] public List<string> Set { get; init; } = [];
    /// <summary>This group's x values instead of the axis's (e.g. RTE only at FewGLUE's 32).</summary>
    [JsonPropertyName("x")] public List<double>? X { get; init; }
    /// <summary>Overrides for one experiment in this group only (e.g. in-context's answer words for this data set).</summary>
    [JsonPropertyName("experiments")] public Dictionary<string, List<string>> Experiments { get; init; } = [];
}

/// <summary>The setting swept along the chart's x axis: <c>key</c> is set to each value.</summary>
public sealed record StudyAxis
{
    [JsonPropertyName("key")] public required string Key { get; init; }
    [JsonPropertyName("label")] public string? Label { get; init; }
    [JsonPropertyName("values")] public required List<double> Values { get; init; }
}

/// <summary>A compared row: an experiment's primary metric, or that metric of the recipe stages whose names match
/// <c>stages</c> (<c>*</c> matches any text), several matching stages combined by <c>take</c> (mean, max or min).</summary>
public sealed record StudySeries
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("experiment")] public required string Experiment { get; init; }
    [JsonPropertyName("stages")] public string? Stages { get; init; }
    [JsonPropertyName("take")] public string Take { get; init; } = "mean";
}
