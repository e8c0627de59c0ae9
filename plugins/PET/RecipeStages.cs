using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// The stages PET and iPET share, each a run of the host's runner in a folder inside the recipe's: a pattern's zero-shot
/// run (its dev score, and its accuracy on the training set before training — the pattern's ensemble weight), a model
/// trained on a pattern, and the final classifier distilled from soft labels.
/// </summary>
public sealed class RecipeStages
{
    readonly IExperimentRunner runner;
    readonly ExperimentSpec spec;
    readonly RecipeOptions options;
    readonly CancellationToken cancel;

    /// <param name="leaveOutTraining">zero-shot iPET: T is left out (empty), the task's rows feed the pool only.</param>
    public RecipeStages(IExperimentRunner runner, ExperimentSpec spec, RecipeOptions options, string recipe, CancellationToken cancel,
        bool leaveOutTraining = false)
    {
        options.Validate();
        if (spec.Objective.Name != "pet")
            throw new OptionsException($"objective.name: the {recipe} recipe trains the \"pet\" objective, got \"{spec.Objective.Name}\"");
        this.runner = runner;
        this.spec = spec;
        this.options = options;
        this.cancel = cancel;
        Data = runner.LoadTask(spec);
        if (leaveOutTraining) Data = Data with { Train = [] };
        if (Data.Unlabelled is not { Count: > 0 })
            throw new OptionsException(
                $"task.max_unlabelled: the {recipe} recipe labels an unlabelled pool; ask the task for one " +
                "(e.g. \"max_unlabelled\": 2000)");
        Patterns = ResolvePatterns();
        finalTraining = Overlay(spec.Training, options.Final?.Training);   // checked now, not after hours of training
        if (options.Distill)
        {
            try { runner.Check(DistilledStage()); }
            catch (OptionsException e)
            {
                throw new OptionsException($"{RecipeOptions.Section}.final (the distillation stage): {e.Message}");
            }
        }
    }

    readonly TrainingSpec finalTraining;

    /// <summary>T (train), the dev set and the unlabelled pool D, drawn once for every stage.</summary>
    public TaskData Data { get; }

    /// <summary>Each pattern's short name and the objective options that select it.</summary>
    public IReadOnlyList<(string Name, JsonObject Selects)> Patterns { get; }

    string Folder(string name) => Path.Combine(spec.Output!, name);

    IReadOnlyList<(string, JsonObject)> ResolvePatterns()
    {
        var builtIn = BuiltInPatterns.For(Data.Name);
        var own = spec.Objective.Options is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("pattern", out var p) ? p : default;
        if (options.Patterns is null)
        {
            if (own.ValueKind == JsonValueKind.String) return [("p0", new JsonObject { ["pattern"] = own.GetString() })];
            if (builtIn is null)
                throw new OptionsException(
                    $"{RecipeOptions.Section}.patterns: data set '{Data.Name}' has no built-in patterns; list yours");
            return Enumerable.Range(0, builtIn.Patterns.Count).Select(i => ($"p{i}", new JsonObject { ["pattern_id"] = i })).ToList();
        }
        return options.Patterns.Select((e, i) => e.ValueKind == JsonValueKind.Number
            ? ($"p{e.GetInt32()}", new JsonObject { ["pattern_id"] = e.GetInt32() })
            : ($"p{i}", new JsonObject { ["pattern"] = e.GetString() })).ToList();
    }

    /// <summary>The experiment with the objective's options overlaid by <paramref name="overrides"/>, a name and a folder.</summary>
    ExperimentSpec Stage(string name, JsonObject overrides, int seed)
    {
        var objective = spec.Objective.Options is { ValueKind: JsonValueKind.Object } o ? JsonNode.Parse(o.GetRawText())!.AsObject() : [];
        objective.Remove("pattern");
        objective.Remove("pattern_id");
        foreach (var (key, value) in overrides) objective[key] = value?.DeepClone();
        return spec with
        {
            Name = $"{spec.Name}/{name}",
            Output = Folder(name),
            Seed = seed,
            Recipe = null,
            Objective = spec.Objective with { Options = JsonSerializer.SerializeToElement(objective) },
        };
    }

    /// <summary>A pattern's zero-shot run: its dev metrics, and its accuracy on T — the weight of its models' votes.</summary>
    public async Task<(StageResult Stage, double Weight)> ZeroShotAsync(int pattern)
    {
        var (name, selects) = Patterns[pattern];
        var overrides = (JsonObject)selects.DeepClone();
        overrides["zero_shot"] = true;
        var stage = Stage($"{name}-zero-shot", overrides, spec.Seed);
        var run = await runner.RunAsync(stage, Data with { Unlabelled = null }, cancel);
        // Without T (zero-shot iPET) there is no accuracy to weigh a pattern by: every pattern votes alike.
        if (Data.Train.Count == 0) return (new StageResult($"{name} zero-shot", run.Metrics, run.Directory), 1);
        double onTrain = runner.Score(stage, runner.Predict(run.Directory, Data.Train, cancel), Data.Train)[Data.PrimaryMetric];
        double weight = options.Weighting == "uniform" ? 1 : onTrain;
        var metrics = new Dictionary<string, double>(run.Metrics) { ["train_" + Data.PrimaryMetric] = onTrain };
        return (new StageResult($"{name} zero-shot", metrics, run.Directory), weight);
    }

    /// <summary>A finished run's log-probabilities on the dev set and the pool, as an ensemble member.</summary>
    public ModelScores Scores(string name, string runDirectory, int pattern, double weight)
    {
        var scores = Ensemble.LogProbabilities(runner.Predict(runDirectory, [.. Data.Dev, .. Data.Unlabelled!], cancel));
        return new ModelScores(name, runDirectory, pattern, weight, scores[..Data.Dev.Count], scores[Data.Dev.Count..]);
    }

    /// <summary>Trains model <paramref name="model"/> of a pattern on <paramref name="train"/> (T, or T and iPET's new examples)
    /// and scores the dev set and the pool with it.</summary>
    public async Task<(ModelScores Scores, IReadOnlyDictionary<string, double> Metrics)> TrainAsync(
        int pattern, int model, double weight, IReadOnlyList<Example> train, string prefix = "")
    {
        var (name, selects) = Patterns[pattern];
        var overrides = (JsonObject)selects.DeepClone();
        int seed = spec.Seed + 1000 * (model + 1);
        overrides["seed"] = seed;
        var stage = Stage($"{prefix}{name}-m{model}", overrides, seed);
        var run = await runner.RunAsync(stage, Data with { Train = train }, cancel);
        return (Scores($"{prefix}{name}-m{model}", run.Directory, pattern, weight), run.Metrics);
    }

    /// <summary>The ensemble's dev metrics as a stage, and the pool with the ensemble's soft labels (written to
    /// <c>soft-labels.jsonl</c> for inspection).</summary>
    public (StageResult Stage, IReadOnlyList<Example> SoftLabelled) EnsembleStage(string name, IReadOnlyList<ModelScores> models)
    {
        var weights = models.Select(m => m.Weight).ToList();
        var dev = Ensemble.Merge(models.Select(m => m.Dev).ToList(), weights);
        var metrics = runner.Score(spec, Ensemble.Predictions(dev), Data.Dev);
        var pool = Ensemble.SoftLabelled(Data.Unlabelled!, Ensemble.Merge(models.Select(m => m.Unlabelled).ToList(), weights),
            options.Temperature);
        // A multiple-choice task names no labels: its label is the option's index.
        string Label(Example e) => e.Label < Data.Labels.Count ? Data.Labels[e.Label] : $"{e.Label}";
        File.WriteAllLines(Path.Combine(spec.Output!, "soft-labels.jsonl"), pool.Select(e => JsonSerializer.Serialize(
            new { text = e.Segments, options = e.Options, label = Label(e), soft = e.Soft })));
        return (new StageResult(name, metrics), pool);
    }

    /// <summary>PET's last step: a classifier trained on the soft-labelled pool (its own method, objective and training).</summary>
    public async Task<StageResult> DistillAsync(IReadOnlyList<Example> softLabelled)
    {
        var run = await runner.RunAsync(DistilledStage(), Data with { Train = softLabelled, Unlabelled = null }, cancel);
        return new StageResult("distilled", run.Metrics, run.Directory);
    }

    /// <summary>The distillation stage's experiment: the final method and objective (default: the experiment's method, the
    /// classifier head at the recipe's temperature) with the final training.</summary>
    ExperimentSpec DistilledStage()
    {
        var final = options.Final ?? new RecipeOptions.FinalStage();
        var objective = final.Objective ?? new PluginChoice
        {
            Name = "classifier-head",
            Options = JsonSerializer.SerializeToElement(new { temperature = options.Temperature }),
        };
        var stage = spec with
        {
            Name = $"{spec.Name}/distilled",
            Output = Folder("distilled"),
            Recipe = null,
            Method = final.Method ?? spec.Method,
            Objective = objective,
            Training = finalTraining,
        };
        return stage;
    }

    /// <summary>The experiment's training with the fields <paramref name="fields"/> gives replaced.</summary>
    static TrainingSpec Overlay(TrainingSpec training, JsonElement? fields)
    {
        if (fields is not { ValueKind: JsonValueKind.Object } given) return training;
        var merged = JsonSerializer.SerializeToNode(training)!.AsObject();
        foreach (var field in given.EnumerateObject())
        {
            if (!merged.ContainsKey(field.Name))
                throw new OptionsException($"{RecipeOptions.Section}.final.training.{field.Name}: not a training field");
            merged[field.Name] = JsonNode.Parse(field.Value.GetRawText());
        }
        try { return merged.Deserialize<TrainingSpec>()!; }
        catch (JsonException e) { throw new OptionsException($"{RecipeOptions.Section}.final.training: {e.Message.Split(" Path:")[0]}"); }
    }

    /// <summary>Metric-wise means over a pattern's models, as one stage.</summary>
    public static StageResult Mean(string name, IEnumerable<IReadOnlyDictionary<string, double>> runs)
    {
        var list = runs.ToList();
        return new StageResult(name, list[0].Keys.ToDictionary(k => k, k => list.Average(m => m[k])));
    }
}
