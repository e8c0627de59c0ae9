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

/// <summary>The task: a plugin name and the plugin's own options, written beside the name (<c>"dataset"</c>, <c>"max_train"</c>,
/// …).</summary>
public sealed record TaskSpec
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    /// <summary>Every other field of the task object; the task plugin binds and checks them.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement> Options { get; init; } = [];

    /// <summary><see cref="Options"/> as the JSON object a task plugin binds.</summary>
    public JsonElement OptionsElement() => JsonSerializer.SerializeToElement(Options);
}

/// <summary>
/// T5's mixing of several tasks (Raffel et al. 2020, §3.5.2): task m is drawn with probability r_m ∝ min(e_m, K)^(1/T), e_m its
/// training examples. <c>proportional</c> is T = 1; <c>temperature</c> uses <see cref="Temperature"/>; <c>equal</c> gives every task
/// the same share. An epoch is Σ min(e_m, K) draws.
/// </summary>
public sealed record MixingSpec
{
    [JsonPropertyName("strategy")] public string Strategy { get; init; } = "proportional";
    /// <summary>K, the artificial data set size limit; 0 = no limit.</summary>
    [JsonPropertyName("limit")] public int Limit { get; init; }
    [JsonPropertyName("temperature")] public double Temperature { get; init; } = 1;
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
    /// <summary>Which weights a run keeps (<c>best/</c>) and reports: <c>best</c>, the epoch with the best dev score, or
    /// <c>last</c>, the final weights, scored once at the end — the few-shot protocol, where no dev set may pick anything.</summary>
    [JsonPropertyName("keep")] public string Keep { get; init; } = "best";

    [JsonIgnore] public bool KeepsLast => Keep == "last";

    /// <summary>Optimizer steps one epoch of <paramref name="examples"/> makes: an epoch's last, partial accumulation still makes a
    /// step. Since SDK 2.1.</summary>
    public long StepsPerEpoch(int examples)
    {
        long batches = (examples + (long)BatchSize - 1) / BatchSize;
        return Math.Max(1, (batches + GradientAccumulation - 1) / GradientAccumulation);
    }
}

/// <summary>One experiment file: model, method, objective, task, data, training and evaluation, seed, device.</summary>
public sealed record ExperimentSpec
{
    [JsonPropertyName("name")] public string Name { get; init; } = "experiment";
    [JsonPropertyName("model")] public ModelSpec Model { get; init; } = new();
    [JsonPropertyName("method")] public PluginChoice Method { get; init; } = new() { Name = "full" };
    [JsonPropertyName("objective")] public PluginChoice Objective { get; init; } = new() { Name = "classifier-head" };
    [JsonPropertyName("task")] public TaskSpec Task { get; init; } = new();
    /// <summary>Several tasks trained together into one model (T5's multi-task training), instead of <see cref="Task"/>: their
    /// examples are mixed into one stream by <see cref="Mixing"/>, and every task's metrics are reported with their mean.</summary>
    [JsonPropertyName("tasks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<TaskSpec>? Tasks { get; init; }
    /// <summary>How <see cref="Tasks"/> are mixed; examples-proportional when not given.</summary>
    [JsonPropertyName("mixing"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public MixingSpec? Mixing { get; init; }
    [JsonPropertyName("training")] public TrainingSpec Training { get; init; } = new();
    [JsonPropertyName("recipe")] public PluginChoice? Recipe { get; init; }
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    [JsonPropertyName("device")] public string Device { get; init; } = "cpu";
    /// <summary><c>fp32</c>, <c>bf16</c> (matmuls in bf16, fp32 master weights) or <c>auto</c> (bf16 where the device runs it
    /// at least 1.5× faster).</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "auto";
    /// <summary>Run folder; a fresh <c>runs/&lt;name&gt;-&lt;timestamp&gt;</c> when empty.</summary>
    [JsonPropertyName("output")] public string? Output { get; init; }
    /// <summary>Written by the host into a run's config.json: which plugin (assembly, version, folder) served each role.</summary>
    [JsonPropertyName("provenance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, PluginProvenance>? Provenance { get; init; }
}

/// <summary>Where a plugin came from: its name and version, its assembly (file and version) and the folder it was loaded from.</summary>
public sealed record PluginProvenance(
    [property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("assembly")] string Assembly, [property: JsonPropertyName("assembly_version")] string AssemblyVersion,
    [property: JsonPropertyName("folder")] string Folder);

/// <summary>What a run left behind: its folder and final metrics.</summary>
public sealed record RunResult(string Directory, IReadOnlyDictionary<string, double> Metrics, long TrainableParameters, double Seconds);

/// <summary>One stage of a recipe (a pattern's model, an ensemble, a distilled model) and what it scored on the dev set.</summary>
public sealed record StageResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("metrics")] IReadOnlyDictionary<string, double> Metrics,
    [property: JsonPropertyName("run"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Directory = null);

/// <summary>The host's experiment runner, as multi-stage recipes see it.</summary>
public interface IExperimentRunner
{
    /// <summary>Runs an experiment (its own task data); a recipe runs each stage with <c>Output</c> inside its own folder.</summary>
    Task<RunResult> RunAsync(ExperimentSpec spec, CancellationToken cancel);
    /// <summary>Runs an experiment on <paramref name="data"/> instead of loading the task (few-shot sets, soft-labelled pools).
    /// The run's config.json still names the task, so a later evaluation scores the same dev set.</summary>
    Task<RunResult> RunAsync(ExperimentSpec spec, TaskData data, CancellationToken cancel);
    /// <summary>The task data an experiment's task options describe (with its unlabelled pool, when asked for one).</summary>
    TaskData LoadTask(ExperimentSpec spec);
    /// <summary>A finished run's predictions on any examples: its best weights reloaded, in its precision.</summary>
    IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, CancellationToken cancel);
    /// <summary>The experiment's task's metrics for <paramref name="predictions"/> of <paramref name="gold"/> (say, an
    /// ensemble's).</summary>
    IReadOnlyDictionary<string, double> Score(ExperimentSpec spec, IReadOnlyList<Prediction> predictions, IReadOnlyList<Example> gold);
    /// <summary>Writes a recipe's report into its folder (metrics.json with every stage, stages.md, stages.png of the task's
    /// primary metric) and returns the recipe's result: its last stage's metrics.</summary>
    RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds);

    /// <summary>As <see cref="Report(string, ExperimentSpec, IReadOnlyList{StageResult}, double)"/>, the chart showing
    /// <paramref name="chartMetrics"/> (grouped bars, one colour per stage). Since SDK 2.1.</summary>
    RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds,
        IReadOnlyList<string> chartMetrics) => Report(directory, spec, stages, seconds);
}

/// <summary>A multi-stage recipe (PET ensemble → distillation, iPET) that drives the runner.</summary>
public interface IRecipe : IPlugin
{
    /// <summary>Whether the recipe takes an experiment with several <c>tasks</c> (a multi-task mixture); the host refuses such an
    /// experiment for recipes that do not. Default: no. Since SDK 2.1.</summary>
    bool AcceptsSeveralTasks => false;

    /// <summary>Runs the recipe. <paramref name="spec"/> is the experiment as written, its <c>recipe.options</c> the recipe's
    /// own (bind them with <see cref="PluginOptions.Bind{T}"/> under <c>recipe.options</c>) and its <c>output</c> the recipe's
    /// folder, already made; each stage runs with <see cref="IExperimentRunner.RunAsync(ExperimentSpec, TaskData, CancellationToken)"/>
    /// in a folder inside it, and <see cref="IExperimentRunner.Report(string, ExperimentSpec, IReadOnlyList{StageResult}, double)"/>
    /// ends the recipe.</summary>
    Task<RunResult> RunAsync(ExperimentSpec spec, IExperimentRunner runner, CancellationToken cancel);
}
