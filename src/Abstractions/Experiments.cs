using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Abstractions;

/// <summary>A plugin chosen by name with its free-form options (bound by the plugin itself).</summary>
public sealed record PluginChoice
{
    /// <summary>The plugin's manifest name (<c>lora</c>, <c>classifier-head</c>); the host looks it up among the loaded
    /// plugins of the role's kind.</summary>
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    /// <summary>The plugin's own options, handed over unread; null when the file gives none (the plugin's defaults).</summary>
    [JsonPropertyName("options"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public JsonElement? Options { get; init; }
    /// <summary>Methods only: further methods attached beside this one (composition: LoRA with prefix tuning, adapters with
    /// LoRA), each on hook points of its own (<see cref="IAdaptationMethod.Uses"/>). Since SDK 2.6.</summary>
    [JsonPropertyName("with"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<PluginChoice>? With { get; init; }

    /// <summary>The chosen plugins' names joined by <c>+</c> (<c>lora+prefix</c>): how a composed method is named in results.</summary>
    [JsonIgnore] public string Label => With is { Count: > 0 } ? string.Join("+", [Name, .. With.Select(w => w.Name)]) : Name;
}

/// <summary>The base model: a preset (random init) or a model folder (pre-trained), with its tokenizer.</summary>
public sealed record ModelSpec
{
    /// <summary>A shape by name (<c>tiny</c>, <c>small</c>, <c>llama-tiny</c>, …), randomly initialised: for tests and
    /// quick checks.</summary>
    [JsonPropertyName("preset")] public string? Preset { get; init; }
    /// <summary>A model folder (<c>config.json</c> + safetensors weights) or a Hugging Face reference, pre-trained.</summary>
    [JsonPropertyName("path")] public string? Path { get; init; }
    /// <summary>Tokenizer folder; defaults to the model folder, or GPT-2's shipped files for a preset.</summary>
    [JsonPropertyName("tokenizer")] public string? Tokenizer { get; init; }
}

/// <summary>The task: a plugin name and the plugin's own options, written beside the name (<c>"dataset"</c>, <c>"max_train"</c>,
/// …).</summary>
public sealed record TaskSpec
{
    /// <summary>The task plugin's manifest name (<c>classification</c>, <c>text-to-text</c>).</summary>
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
    /// <summary><c>proportional</c>, <c>temperature</c> or <c>equal</c>.</summary>
    [JsonPropertyName("strategy")] public string Strategy { get; init; } = "proportional";
    /// <summary>K, the artificial data set size limit; 0 = no limit.</summary>
    [JsonPropertyName("limit")] public int Limit { get; init; }
    /// <summary>T of the <c>temperature</c> strategy: 1 is proportional, larger values move the shares towards equal.</summary>
    [JsonPropertyName("temperature")] public double Temperature { get; init; } = 1;
}

/// <summary>How the trainable tensors are optimised (AdamW, linear warmup then linear decay); defaults are GPT-1's fine-tuning
/// settings.</summary>
public sealed record TrainingSpec
{
    /// <summary>Passes over the training examples; the dev set is scored after each.</summary>
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 3;
    /// <summary>Examples per forward pass.</summary>
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 32;
    /// <summary>Batches whose gradients are summed before one optimizer step (an effective batch of
    /// <see cref="BatchSize"/> × this).</summary>
    [JsonPropertyName("gradient_accumulation")] public int GradientAccumulation { get; init; } = 1;
    /// <summary>AdamW's peak learning rate, reached after warmup.</summary>
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 6.25e-5;
    /// <summary>Share of all optimizer steps spent warming the learning rate up from zero (0.002 = GPT-1's 0.2 %).</summary>
    [JsonPropertyName("warmup")] public double WarmupFraction { get; init; } = 0.002;
    /// <summary>AdamW's decoupled weight decay, applied where <see cref="ParameterSettings.WeightDecay"/> says so.</summary>
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.01;
    /// <summary>Largest global gradient norm; larger gradients are scaled down to it (0 or less: no clipping).</summary>
    [JsonPropertyName("grad_clip")] public double GradClip { get; init; } = 1.0;
    /// <summary>Stops training after this many optimizer steps, whatever <see cref="Epochs"/> says; 0 = no limit.</summary>
    [JsonPropertyName("max_steps")] public int MaxSteps { get; init; }
    /// <summary>Which weights a run keeps (<c>best/</c>) and reports: <c>best</c>, the epoch with the best dev score, or
    /// <c>last</c>, the final weights, scored once at the end — the few-shot protocol, where no dev set may pick anything.</summary>
    [JsonPropertyName("keep")] public string Keep { get; init; } = "best";
    /// <summary>The update rule: <c>adamw</c> (default), <c>sgd</c> (with <see cref="Momentum"/>; decay added to the gradient, as
    /// PyTorch's SGD) or <c>adafactor</c> (T5's optimizer, PyTorch's formulation: <see cref="LearningRate"/> caps the step relative
    /// to each weight's RMS, so it wants larger values, e.g. 1e-3). Since SDK 2.4.</summary>
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "adamw";
    /// <summary>SGD's momentum (0 = plain SGD). Since SDK 2.4.</summary>
    [JsonPropertyName("momentum")] public double Momentum { get; init; } = 0.9;
    /// <summary>The learning rate after warmup: <c>cosine</c> decay to zero (default), <c>linear</c> decay to zero, or
    /// <c>constant</c>. Since SDK 2.4.</summary>
    [JsonPropertyName("schedule")] public string Schedule { get; init; } = "cosine";
    /// <summary>Scores the dev set every this many optimizer steps (and at the end), keeping the best; 0 = after every epoch.
    /// Since SDK 2.4.</summary>
    [JsonPropertyName("eval_every")] public int EvalEvery { get; init; }
    /// <summary>The dev metric that picks the best evaluation (and early stopping watches); null = the task's primary metric.
    /// Since SDK 2.4.</summary>
    [JsonPropertyName("best_metric"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BestMetric { get; init; }
    /// <summary>Writes a resumable checkpoint (<c>checkpoint/</c>: trained weights, optimizer state, position) every this many
    /// optimizer steps, besides after every evaluation; 0 = after evaluations only. <c>run --resume RUN_DIR</c> continues from it.
    /// Since SDK 2.4.</summary>
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; }
    /// <summary>Recomputes each block's activations in the backward pass instead of keeping them: the same gradients, less
    /// memory, about one more forward pass of compute. Since SDK 2.4.</summary>
    [JsonPropertyName("gradient_checkpointing")] public bool GradientCheckpointing { get; init; }
    /// <summary>Stops training when the dev score has not improved for a while; null = never. Since SDK 2.4.</summary>
    [JsonPropertyName("early_stopping"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public EarlyStoppingSpec? EarlyStopping { get; init; }

    /// <summary>Whether <see cref="Keep"/> is <c>last</c>.</summary>
    [JsonIgnore] public bool KeepsLast => Keep == "last";

    /// <summary>Optimizer steps one epoch of <paramref name="examples"/> makes: an epoch's last, partial accumulation still makes a
    /// step. Since SDK 2.1.</summary>
    public long StepsPerEpoch(int examples)
    {
        long batches = (examples + (long)BatchSize - 1) / BatchSize;
        return Math.Max(1, (batches + GradientAccumulation - 1) / GradientAccumulation);
    }
}

/// <summary>When to stop a run whose dev score no longer improves (<c>training.early_stopping</c>). Since SDK 2.4.</summary>
public sealed record EarlyStoppingSpec
{
    /// <summary>Evaluations in a row without improvement after which training stops.</summary>
    [JsonPropertyName("patience")] public int Patience { get; init; } = 3;
    /// <summary>How much a score must exceed the best so far to count as an improvement.</summary>
    [JsonPropertyName("min_delta")] public double MinDelta { get; init; }
}

/// <summary>One experiment file: model, method, objective, task, data, training and evaluation, seed, device.</summary>
public sealed record ExperimentSpec
{
    /// <summary>Names the run: its default folder, its row in the results database.</summary>
    [JsonPropertyName("name")] public string Name { get; init; } = "experiment";
    /// <summary>The base model to adapt.</summary>
    [JsonPropertyName("model")] public ModelSpec Model { get; init; } = new();
    /// <summary>The adaptation method (an <see cref="IAdaptationMethod"/>) and its options.</summary>
    [JsonPropertyName("method")] public PluginChoice Method { get; init; } = new() { Name = "full" };
    /// <summary>The objective (an <see cref="IObjective"/>) and its options.</summary>
    [JsonPropertyName("objective")] public PluginChoice Objective { get; init; } = new() { Name = "classifier-head" };
    /// <summary>The task (an <see cref="ITaskPlugin"/>) and its options; unused when <see cref="Tasks"/> is given.</summary>
    [JsonPropertyName("task")] public TaskSpec Task { get; init; } = new();
    /// <summary>Several tasks trained together into one model (T5's multi-task training), instead of <see cref="Task"/>: their
    /// examples are mixed into one stream by <see cref="Mixing"/>, and every task's metrics are reported with their mean.</summary>
    [JsonPropertyName("tasks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public List<TaskSpec>? Tasks { get; init; }
    /// <summary>How <see cref="Tasks"/> are mixed; examples-proportional when not given.</summary>
    [JsonPropertyName("mixing"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public MixingSpec? Mixing { get; init; }
    /// <summary>Optimisation settings.</summary>
    [JsonPropertyName("training")] public TrainingSpec Training { get; init; } = new();
    /// <summary>Training callbacks (each an <see cref="ITrainingCallback"/> with its options), called in this order after the
    /// host's own. Since SDK 2.4.</summary>
    [JsonPropertyName("callbacks"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<PluginChoice>? Callbacks { get; init; }
    /// <summary>A multi-stage recipe (an <see cref="IRecipe"/>) that runs this experiment in stages; null for one plain run.</summary>
    [JsonPropertyName("recipe")] public PluginChoice? Recipe { get; init; }
    /// <summary>Seeds initialisation, data order, dropout and sampling: the same seed on the same machine repeats a run.</summary>
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>Where the run computes: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
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
/// <param name="Name">the plugin's manifest name.</param>
/// <param name="Version">the manifest's version.</param>
/// <param name="Assembly">the assembly's file name.</param>
/// <param name="AssemblyVersion">the assembly's version (<c>AssemblyName.Version</c>).</param>
/// <param name="Folder">the folder the host loaded it from (what <c>--plugins</c> must name again to evaluate the run).</param>
public sealed record PluginProvenance(
    [property: JsonPropertyName("name")] string Name, [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("assembly")] string Assembly, [property: JsonPropertyName("assembly_version")] string AssemblyVersion,
    [property: JsonPropertyName("folder")] string Folder);

/// <summary>What a run left behind: its folder and final metrics.</summary>
/// <param name="Directory">the run folder (<c>config.json</c>, <c>metrics.json</c>, <c>best/</c>, <c>run.log</c>).</param>
/// <param name="Metrics">the kept weights' dev metrics (<c>accuracy</c>, <c>macro_f1</c>, …).</param>
/// <param name="TrainableParameters">elements the run trained: the method's tensors and the objective's head.</param>
/// <param name="Seconds">wall-clock time of the whole run.</param>
public sealed record RunResult(string Directory, IReadOnlyDictionary<string, double> Metrics, long TrainableParameters, double Seconds);

/// <summary>One stage of a recipe (a pattern's model, an ensemble, a distilled model) and what it scored on the dev set.</summary>
/// <param name="Name">the stage's label in the recipe's report.</param>
/// <param name="Metrics">its dev metrics.</param>
/// <param name="Directory">its run folder; null for a stage that trained nothing (an ensemble of earlier runs).</param>
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

    /// <summary>Checks a stage's experiment as <c>run</c> would before it starts (plugin names, their options, the task's data)
    /// without training, so a recipe can refuse a mistake in a late stage before its early stages cost hours. Default: no
    /// check. Since SDK 2.2.</summary>
    void Check(ExperimentSpec spec) { }
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
