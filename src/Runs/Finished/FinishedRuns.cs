using PluginGpt.Core;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Runs;

/// <summary>
/// Finished runs reopened from their folders (<c>evaluate</c>, <c>predict</c>, <c>export</c>, <c>generate --run</c>): each is
/// assembled again from its config.json, in the precision it recorded, with its best/ weights loaded and checked.
/// </summary>
public sealed partial class FinishedRuns(RunAssembler assembler)
{
    /// <summary>Scores a finished run's dev set again.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(string runDirectory, CancellationToken cancel = default)
    {
        using var span = Telemetry.Source.StartActivity("evaluate");
        span?.SetTag("run", runDirectory);
        return Reloaded(runDirectory, null, (spec, run) => FineTuner.Evaluate(
            new FineTuneJob(run.Model, run.Attached, run.Instance, run.Scoring, run.Data, spec.Training, spec.Seed, runDirectory), 0,
            cancel: cancel));
    }

    /// <summary>Predictions of a finished run; of its task <paramref name="task"/> (a data set's key) when it is a multi-task
    /// run.</summary>
    public IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, string? task,
        CancellationToken cancel) =>
        Reloaded(runDirectory, Reopened(runDirectory), (spec, run) =>
            FineTuner.Predict(run.Model, run.PerTask[TaskIndex(run.TaskKeys, task, runDirectory)], examples,
                Math.Max(1, spec.Training.BatchSize), cancel));

    /// <summary>The task data of one task of a finished run: its only one, or the multi-task member <paramref name="task"/>.
    /// </summary>
    public TaskData LoadTask(ExperimentSpec spec, string? task, string runDirectory)
    {
        if (spec.Tasks is null && task is null && Reopened(runDirectory) is { } stored) return stored;
        var (data, _, multi) = RunAssembler.Compose(spec, assembler.LoadTasks(spec, null));
        int index = TaskIndex(AssembledRun.KeysOf(data, multi), task, runDirectory);
        return multi is null ? data : multi.Members[index].Data;
    }

    /// <summary>Which of a run's tasks <c>--task</c> names: the only one when it names none, else its key's; errors list the keys.
    /// </summary>
    public static int TaskIndex(IReadOnlyList<string> keys, string? task, string runDirectory)
    {
        if (task is null && keys.Count == 1) return 0;
        if (task is null)
            throw new OptionsException($"--task: {runDirectory} is a multi-task run; name one of its tasks ({string.Join(", ", keys)})");
        int index = keys.ToList().IndexOf(task);
        return index >= 0 ? index
            : throw new OptionsException($"--task: '{task}' is not a task of {runDirectory} ({string.Join(", ", keys)})");
    }

    /// <summary>A finished run rebuilt with its best/ weights, as <c>generate --run</c> and <c>export</c> use it: the base model with the
    /// method attached and loaded, its tokenizer, and the objective of each of its tasks (by key).</summary>
    public T Open<T>(string runDirectory, Func<OpenedRun, T> use) => Reloaded(runDirectory, Reopened(runDirectory), (spec, run) =>
        use(new OpenedRun(runDirectory, spec, run.Model, run.Tokenizer, run.Method.Manifest.Name, run.Attached, run.TaskKeys,
            run.PerTask)));

    /// <summary>A single-task run's task: the data it trained with when this runner trained it (a recipe's stages), else as
    /// loaded from its files, or, when those cannot be read any more (moved, deleted), the run's own task.json; null for a
    /// multi-task run.</summary>
    TaskData? Reopened(string runDirectory)
    {
        if (assembler.TrainedWith(runDirectory) is { } trained) return trained;   // a stage this runner trained: its own data
        var config = Path.Combine(runDirectory, "config.json");
        if (!File.Exists(config) || RunTaskRecord.Read(runDirectory) is not { } stored) return null;
        var spec = ExperimentFile.Load(config, []);
        if (spec.Tasks is not null || spec.Recipe is not null) return null;
        try { return assembler.LoadTasks(spec, null)[0].Data; }
        catch (UserInputException) { return stored; }
    }

    /// <summary>A finished run rebuilt from its config.json with its best/ weights, in the precision it recorded.</summary>
    T Reloaded<T>(string runDirectory, TaskData? data, Func<ExperimentSpec, AssembledRun, T> use)
    {
        var (finished, spec) = FinishedModel(runDirectory);
        if (finished != runDirectory) return Reloaded(finished, data, use);
        using var region = Autocast.Use(PrecisionSelector.Resolve(spec.Precision, DeviceSelector.Parse(spec.Device)).ComputeType);
        using var temporaries = torch.NewDisposeScope();
        using var run = assembler.Assemble(spec, data);
        var best = Path.Combine(runDirectory, FineTuner.BestDir);
        run.Attached.Load(best);
        run.Instance.Load(best);
        CheckFinite(best, ModelTensors(run.Model).Concat(HeadTensors(run.PerTask)));
        return use(spec, run);
    }

    /// <summary>The folder holding a finished run's model (a recipe's: its final stage's) and its experiment; a folder that is
    /// no run, or a run that did not finish, is refused in one line.</summary>
    static (string Directory, ExperimentSpec Spec) FinishedModel(string runDirectory)
    {
        var config = Path.Combine(runDirectory, "config.json");
        if (!File.Exists(config)) throw new UserInputException($"{runDirectory}: not a run folder (no config.json)");
        var spec = ExperimentFile.Load(config, []);
        if (spec.Recipe is not null) return FinishedModel(FinalStage(runDirectory));
        // An interrupted run leaves best/ from a completed epoch but no metrics.json: it is not a finished model. A run made by
        // `adapters combine` was never trained: its combination.json says what it holds.
        if (!File.Exists(Path.Combine(runDirectory, RunFiles.Summary))
            && !File.Exists(Path.Combine(runDirectory, Core.Adapters.LoraCombination.RunFile)))
            throw new UserInputException($"{runDirectory}: the run did not finish (no {RunFiles.Summary}); run it again");
        return (runDirectory, spec);
    }

    /// <summary>A recipe folder answers with its last stage's model (PET's distilled classifier).</summary>
    static string FinalStage(string recipeDirectory)
    {
        if (!File.Exists(Path.Combine(recipeDirectory, RunFiles.Summary)))
            throw new UserInputException($"{recipeDirectory}: the recipe did not finish (no {RunFiles.Summary})");
        // The recipe's answer is its last stage (whose metrics it reports); an ensemble there leaves no single model.
        var stage = RunFiles.ReadSummary(recipeDirectory).Stages?.LastOrDefault() is { Directory: not null } last ? last
            : throw new UserInputException($"{recipeDirectory}: the recipe's last stage is not one model (e.g. an ensemble without " +
                "distillation); predict with one of its stage folders");
        // Stage folders are recorded as the recipe ran them; a moved recipe folder still finds them inside itself.
        var inside = Path.Combine(recipeDirectory, Path.GetFileName(stage.Directory!));
        return Directory.Exists(inside) ? inside : stage.Directory!;
    }

    /// <summary>The model's parameters (body and attached method), by name.</summary>
    internal static IEnumerable<(string Name, torch.Tensor Tensor)> ModelTensors(Decoder model) =>
        model.named_parameters().Select(n => (n.name, (torch.Tensor)n.parameter));

    /// <summary>The objectives' own parameters (heads), named <c>head.NAME</c>.</summary>
    internal static IEnumerable<(string Name, torch.Tensor Tensor)> HeadTensors(IEnumerable<IObjectiveInstance> objectives) =>
        objectives.SelectMany(o => o.Parameters.Select(x => ($"head.{x.Name}", (torch.Tensor)x.Parameter)));

    /// <summary>Weights that went NaN or infinite score as a constant answer in <c>evaluate</c> and crash <c>predict</c>: every
    /// command that reopens the run refuses them alike, naming the first such tensor.</summary>
    internal static void CheckFinite(string best, IEnumerable<(string Name, torch.Tensor Tensor)> tensors)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var (name, tensor) in tensors)
            if (!tensor.isfinite().all().item<bool>())
                throw new CheckpointException($"{best}: {name} holds NaN or infinite values (the run diverged); train it again, " +
                    "e.g. with a lower training.lr");
    }
}
