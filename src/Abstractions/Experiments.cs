using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Abstractions;

/// <summary>A plugin chosen by name with its free-form options (bound by the plugin itself).</summary>
public sealed record PluginChoice
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("options"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Options { get; init; }
}

/// <summary>The base model: a preset (random init) or a model folder (pre-trained), with its tokenizer.</summary>
public sealed record ModelSpec
{
    [JsonPropertyName("preset")] public string? Preset { get; init; }
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>Tokenizer folder; defaults to the model folder, or GPT-2's shipped files for a preset.</summary>
    [JsonPropertyName("tokenizer")] public string? Tokenizer { get; init; }
}

public sealed record TaskSpec
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("dataset")] public string? Dataset { get; init; }
    [JsonPropertyName("train")] public string? Train { get; init; }
    [JsonPropertyName("dev")] public string? Dev { get; init; }
    [JsonPropertyName("format")] public string? Format { get; init; }
    [JsonPropertyName("has_header")] public bool HasHeader { get; init; } = true;
    [JsonPropertyName("columns")] public Dictionary<string, string> Columns { get; init; } = [];
    [JsonPropertyName("labels")] public List<string>? Labels { get; init; }
    [JsonPropertyName("max_train")] public int MaxTrain { get; init; }
    [JsonPropertyName("max_dev")] public int MaxDev { get; init; }
}

public sealed record TrainingSpec
{
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 3;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 32;
    [JsonPropertyName("gradient_accumulation")] public int GradientAccumulation { get; init; } = 1;
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 6.25e-5;
    [JsonPropertyName("warmup")] public double WarmupFraction { get; init; } = 0.002;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.01;
    [JsonPropertyName("grad_clip")] public double GradClip { get; init; } = 1.0;
    [JsonPropertyName("max_steps")] public int MaxSteps { get; init; }
}

/// <summary>One experiment file: model, method, objective, task, data, training and evaluation, seed, device.</summary>
public sealed record ExperimentSpec
{
    [JsonPropertyName("name")] public string Name { get; init; } = "experiment";
    [JsonPropertyName("model")] public ModelSpec Model { get; init; } = new();
    [JsonPropertyName("method")] public PluginChoice Method { get; init; } = new() { Name = "full" };
    [JsonPropertyName("objective")] public PluginChoice Objective { get; init; } = new() { Name = "classifier-head" };
    [JsonPropertyName("task")] public TaskSpec Task { get; init; } = new();
    [JsonPropertyName("training")] public TrainingSpec Training { get; init; } = new();
    [JsonPropertyName("recipe")] public PluginChoice? Recipe { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    [JsonPropertyName("device")] public string Device { get; init; } = "cpu";
    /// <summary>Run folder; a fresh <c>runs/&lt;name&gt;-&lt;timestamp&gt;</c> when empty.</summary>
    [JsonPropertyName("output")] public string? Output { get; init; }
}

/// <summary>What a run left behind: its folder and final metrics.</summary>
public sealed record RunResult(string Directory, IReadOnlyDictionary<string, double> Metrics, long TrainableParameters, double Seconds);

/// <summary>The host's experiment runner, as multi-stage recipes see it.</summary>
public interface IExperimentRunner
{
    Task<RunResult> RunAsync(ExperimentSpec spec, CancellationToken cancel);
}

/// <summary>A multi-stage recipe (PET ensemble → distillation, iPET) that drives the runner.</summary>
public interface IRecipe : IPlugin
{
    Task<RunResult> RunAsync(ExperimentSpec spec, IExperimentRunner runner, CancellationToken cancel);
}
