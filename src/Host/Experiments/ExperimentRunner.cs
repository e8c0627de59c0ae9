using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Host.Logging;
using PluginGpt.Host.Plugins;
using PluginGpt.Host.Results;
using TorchSharp;

namespace PluginGpt.Host.Experiments;

/// <summary>How a runner shows a run's progress: given the run's name (a recipe's stage is <c>experiment/stage</c>), the total
/// steps and the work, it runs the work (with a bar or plain lines).</summary>
public delegate FineTuneResult RunDisplay(string run, int totalSteps, Func<IProgress<TrainingProgress>, FineTuneResult> work);

/// <summary>A finished run, reopened: its experiment, the model with the method loaded, the tokenizer, and per task (by key) its
/// objective.</summary>
public sealed record OpenedRun(string Directory, ExperimentSpec Spec, Decoder Model, IModelTokenizer Tokenizer, string MethodName,
    IAttachedMethod Method, IReadOnlyList<string> TaskKeys, IReadOnlyList<IObjectiveInstance> Objectives)
{
    /// <summary>The objective of task <paramref name="key"/> (<c>--task</c>; null: the run's only task).</summary>
    public IObjectiveInstance Objective(string? key) => Objectives[ExperimentRunner.TaskIndex(TaskKeys, key, Directory)];
}

/// <summary>
/// Runs one experiment: resolves method × objective × task by name, loads model, tokenizer and data, and drives the
/// core's shared loop. Its run folder holds the resolved config (with the plugins' provenance), metrics.jsonl,
/// metrics.json, best/ and run.log.
/// </summary>
public sealed partial class ExperimentRunner(PluginCatalog catalog, RunDisplay display, ILogger? logger = null) : IExperimentRunner
{
    readonly ILogger logger = logger ?? NullLogger.Instance;

    /// <summary>The results database every finished run (and recipe) is recorded in; null records nothing.</summary>
    public string? ResultsPath { get; init; }

    public Task<RunResult> RunAsync(ExperimentSpec spec, CancellationToken cancel)
    {
        if (spec.Recipe is not { Name.Length: > 0 } recipe) return Task.FromResult(Run(spec, null, cancel));
        // A recipe gets its folder (checked and made here, once); its stages run in folders inside it.
        var plugin = catalog.Get<IRecipe>(PluginKind.Recipe, recipe.Name, "recipe.name");
        return RunRecipeAsync(plugin, spec, cancel);
    }

    async Task<RunResult> RunRecipeAsync(IRecipe plugin, ExperimentSpec spec, CancellationToken cancel)
    {
        if (spec.Tasks is not null && !plugin.AcceptsSeveralTasks)
            throw new OptionsException($"tasks: the {plugin.Manifest.Name} recipe trains one task; give \"task\"");
        using var claim = OutputFolder.Claim(spec.Output ?? DefaultFolder(spec), "output", unique: spec.Output is null);
        // The recipe reads its own options from spec.Recipe; the stages it runs through RunAsync(spec, data, …) carry none.
        return await plugin.RunAsync(spec with { Output = claim.Directory }, this, cancel);
    }

    public Task<RunResult> RunAsync(ExperimentSpec spec, TaskData data, CancellationToken cancel)
    {
        ExperimentFile.Validate(spec, spec.Name);   // a recipe's stage is checked like a file: its fields come from the recipe
        return Task.FromResult(Run(spec with { Recipe = null }, data, cancel));
    }

    /// <summary>Continues the run in <paramref name="runDirectory"/> from its last checkpoint (<c>run --resume</c>): the same
    /// experiment (its config.json), the same folder, per-step losses equal to a run never interrupted.</summary>
    public Task<RunResult> ResumeAsync(string runDirectory, CancellationToken cancel)
    {
        var dir = Path.GetFullPath(runDirectory);
        var config = Path.Combine(dir, "config.json");
        if (!File.Exists(config)) throw new OptionsException($"--resume: {dir} is not a run folder (no config.json)");
        if (File.Exists(Path.Combine(dir, RunFiles.Summary)))
            throw new OptionsException($"--resume: {dir} finished (metrics.json is there); nothing to resume");
        if (AtomicDirectory.Complete(Path.Combine(dir, FineTuneCheckpoint.Dir)) is null)
            throw new OptionsException($"--resume: {dir} has no {FineTuneCheckpoint.Dir}/ (it stopped before its first checkpoint); " +
                "run the experiment again");
        var spec = ExperimentFile.Load(config, []);
        if (spec.Recipe is not null)
            throw new OptionsException($"--resume: {dir} is a recipe's folder; resume one of its stages' folders, or run the recipe again");
        return Task.FromResult(Run(spec with { Output = dir }, null, cancel, resume: true));
    }

    public TaskData LoadTask(ExperimentSpec spec) => Compose(spec, LoadTasks(spec, null)).Data;

    public IReadOnlyDictionary<string, double> Score(ExperimentSpec spec, IReadOnlyList<Prediction> predictions,
        IReadOnlyList<Example> gold) => Compose(spec, LoadTasks(spec, null)).Scoring.Score(predictions, gold);

    /// <summary>The experiment's task plugins and their data: <c>task</c>, or each of <c>tasks</c> (a multi-task run).</summary>
    IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> LoadTasks(ExperimentSpec spec, TaskData? given)
    {
        var recorded = spec.Provenance;
        TaskData Load(LoadedPlugin plugin, TaskSpec task) =>
            ((ITaskPlugin)plugin.Instance).Load(new TaskContext(task.OptionsElement(), ShippedData.Path(), spec.Seed));
        if (spec.Tasks is not { } tasks)
        {
            var plugin = catalog.Find(PluginKind.Task, spec.Task.Name, "task.name", recorded?.GetValueOrDefault("task"));
            if (given is not null) return [(plugin, given)];
            var loaded = Load(plugin, spec.Task);
            // Refused before any training, not after the first epoch.
            if (loaded.Dev.Count == 0)
                throw new DataException($"task: {loaded.Name} has no dev examples to score (give task.dev, or more training rows to " +
                    "hold some out)");
            return [(plugin, loaded)];
        }
        if (given is not null) throw new OptionsException("tasks: a multi-task experiment loads its own tasks; run it without given data");
        return tasks.Select((task, i) =>
        {
            var plugin = catalog.Find(PluginKind.Task, task.Name, $"tasks[{i}].name", recorded?.GetValueOrDefault(TaskRole(i)));
            TaskData data;
            try { data = Load(plugin, task); }
            catch (OptionsException e) { throw new OptionsException($"tasks[{i}]: {e.Message}"); }
            // Every task is mixed into training and scored into the mean: one without either would silently drop out.
            if (data.Train.Count == 0) throw new DataException($"tasks[{i}]: {data.Name} has no training examples");
            if (data.Dev.Count == 0) throw new DataException($"tasks[{i}]: {data.Name} has no dev examples to score");
            return (plugin, data);
        }).ToList();
    }

    static string TaskRole(int i) => $"tasks[{i}]";

    /// <summary>One task as it is, or several as a <see cref="MultiTask"/> (its mixture, its composite scoring).</summary>
    static (TaskData Data, ITaskPlugin Scoring, MultiTask? Multi) Compose(ExperimentSpec spec,
        IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> tasks)
    {
        if (spec.Tasks is null) return (tasks[0].Data, (ITaskPlugin)tasks[0].Plugin.Instance, null);
        var keys = TaskKeys.For([.. tasks.Select(t => t.Data.Name)]);
        var multi = new MultiTask([.. tasks.Select((t, i) => new TaskMember(keys[i], (ITaskPlugin)t.Plugin.Instance, t.Data))],
            spec.Mixing ?? new MixingSpec(), spec.Seed);
        return (multi.Data, multi.Scoring, multi);
    }

    /// <summary>runs/NAME-TIME: the name made folder-safe (it stays inside runs/); a taken one gets a suffix when claimed.</summary>
    static string DefaultFolder(ExperimentSpec spec) =>
        Path.GetFullPath(Path.Combine("runs", $"{OutputFolder.SafeName(spec.Name)}-{DateTime.Now:yyyyMMdd-HHmmss}"));

    /// <summary>Everything an experiment builds before training: plugins, model, tokenizer, data, the attached method and
    /// objective.</summary>
    sealed record Prepared(ExperimentSpec Spec, LoadedPlugin Method, LoadedPlugin Objective, IReadOnlyList<LoadedPlugin> Tasks,
        Decoder Model, TaskData Data, ITaskPlugin Scoring, IAttachedMethod Attached, IObjectiveInstance Instance, string? Note,
        MultiTask? Multi, IReadOnlyList<IObjectiveInstance> PerTask, IModelTokenizer Tokenizer) : IDisposable
    {
        /// <summary>The task plugin's name, <c>multi-task</c> for several.</summary>
        public string TaskName => Multi is null ? Tasks[0].Manifest.Name : Scoring.Manifest.Name;
        /// <summary>The tasks' keys, in <see cref="PerTask"/>'s order (one task: its data set's name).</summary>
        public IReadOnlyList<string> TaskKeys => KeysOf(Data, Multi);

        /// <summary>Owners in reverse order of creation: the objective's head, the method's modules (restoring the base), the
        /// model.</summary>
        public void Dispose()
        {
            Instance.Dispose();
            Attached.Dispose();
            Model.Dispose();
        }
    }

    static IModelTokenizer LoadTokenizer(ExperimentSpec spec)
    {
        var folder = spec.Model.Tokenizer is { } own ? ShippedData.RepoPath(own)
            : spec.Model.Path is { } model ? ShippedData.ModelPath(model) : ShippedData.RepoPath(ShippedData.Path("tokenizers", "gpt2"));
        var tokenizer = ModelTokenizer.Load(folder);
        if (spec.Model.Path is { } modelPath) tokenizer.CheckFits(GptCheckpoint.ReadConfig(ShippedData.ModelPath(modelPath)), folder);
        return tokenizer;
    }

    /// <summary>What the objective is built from, once per task of the run (one for a single-task run).</summary>
    static IEnumerable<ObjectiveContext> ObjectiveContexts(ExperimentSpec spec, IDecoder model, ITokenizer tokenizer, TaskData data,
        MultiTask? multi, IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> tasks)
    {
        string[] runTasks = [.. tasks.Select(t => t.Data.Name)];
        var encodedOnce = new Core.Tokenization.MemoizedTokenizer(tokenizer);   // examples are encoded once per run, not every step
        foreach (var (_, own) in tasks)
            yield return new ObjectiveContext(model, encodedOnce, multi is null ? data : own, spec.Objective.Options ?? default)
            {
                RunTasks = runTasks,
            };
    }

    /// <summary>The experiment's method and the ones <c>method.with</c> composes with it, found by name.</summary>
    List<MethodChoice> Methods(ExperimentSpec spec, LoadedPlugin method)
    {
        if (spec.Objective.With is not null) throw new OptionsException("objective.with: only a method composes with others");
        if (spec.Recipe?.With is not null) throw new OptionsException("recipe.with: only a method composes with others");
        var methods = new List<MethodChoice> { new((IAdaptationMethod)method.Instance, spec.Method.Options ?? default, "method") };
        for (int i = 0; i < (spec.Method.With?.Count ?? 0); i++)
        {
            var other = spec.Method.With![i];
            string field = $"method.with[{i}]";
            if (other.With is not null) throw new OptionsException($"{field}.with: list every composed method in method.with");
            var plugin = catalog.Find(PluginKind.Method, other.Name, field + ".name", spec.Provenance?.GetValueOrDefault(field));
            methods.Add(new((IAdaptationMethod)plugin.Instance, other.Options ?? default, field));
        }
        return methods;
    }

    /// <summary>The experiment's base model on its device (seeded first: a preset's weights are drawn), its vocabulary fitted to
    /// the tokenizer, and a note saying how when it was.</summary>
    static (Decoder Model, string? Note) BaseModel(ExperimentSpec spec, IModelTokenizer tokenizer, torch.Device device)
    {
        torch.manual_seed(spec.Seed);
        var model = spec.Model.Path is { } path ? GptCheckpoint.Load(ShippedData.ModelPath(path))
            : new Decoder(Presets.Get(spec.Model.Preset!) with { Vocab = tokenizer.VocabSize });
        try
        {
            string? note = null;
            if (tokenizer.VocabSize > model.Config.Vocab)
            {
                // HF's GPT-2 has 50,257 tokens; GPT-1's input transforms add start, delimiter and extract (and pad): new rows.
                note = $"vocabulary grown from {model.Config.Vocab} to {tokenizer.VocabSize} tokens " +
                    "for the tokenizer's special tokens (new rows N(0, 0.02))";
                model.ResizeTokenEmbeddings(tokenizer.VocabSize);
            }
            else if (tokenizer.VocabSize < model.Config.Vocab)
                // Said, not silent: the extra rows are never an input, and generation never produces them.
                note = $"the tokenizer has {tokenizer.VocabSize} ids, the model's vocabulary {model.Config.Vocab}: ids " +
                    $"{tokenizer.VocabSize}–{model.Config.Vocab - 1} are never read nor generated";
            model.to(device);
            return (model, note);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    Prepared Prepare(ExperimentSpec spec, TaskData? given = null)
    {
        var recorded = spec.Provenance;
        var method = catalog.Find(PluginKind.Method, spec.Method.Name, "method.name", recorded?.GetValueOrDefault("method"));
        var objective = catalog.Find(PluginKind.Objective, spec.Objective.Name, "objective.name", recorded?.GetValueOrDefault("objective"));
        var device = DeviceSelector.Parse(spec.Device);
        var tokenizer = LoadTokenizer(spec);
        var tasks = LoadTasks(spec, given);
        var (data, scoring, multi) = Compose(spec, tasks);

        var (model, note) = BaseModel(spec, tokenizer, device);
        IAttachedMethod? attached = null;
        var perTask = new List<IObjectiveInstance>();
        try
        {
            attached = MethodInstaller.Attach(Methods(spec, method), model);
            // A multi-task run builds the objective once per task (each its own prompts, answers or head) behind one composite.
            foreach (var context in ObjectiveContexts(spec, model, tokenizer, data, multi, tasks))
                perTask.Add(((IObjective)objective.Instance).Create(context));
            var instance = multi?.Objective(perTask) ?? perTask[0];
            return new Prepared(spec, method, objective, [.. tasks.Select(t => t.Plugin)], model, data, scoring, attached, instance, note,
                multi, perTask, tokenizer);
        }
        catch
        {
            foreach (var made in perTask) made.Dispose();
            attached?.Dispose();
            model.Dispose();
            throw;
        }
    }

    RunResult Run(ExperimentSpec spec, TaskData? data, CancellationToken cancel, bool resume = false)
    {
        using var span = Telemetry.Source.StartActivity("run");
        span?.SetTag("experiment", spec.Name);
        // The folder is chosen (and checked) once, before the slow work; a default name's timestamp cannot drift.
        var dir = resume ? spec.Output! : spec.Output is { } chosen ? OutputFolder.EnsureFree(chosen, "output") : DefaultFolder(spec);
        var watch = Stopwatch.StartNew();
        // The whole run (set-up, calibration, losses, predictions) computes in one precision; config.json records the choice.
        var precision = PrecisionSelector.Resolve(spec.Precision, DeviceSelector.Parse(spec.Device));
        spec = spec with { Precision = precision.Name };
        using var region = Autocast.Use(precision.ComputeType);
        // Owners free what they made (the objective, the method, the model); this scope is a safety net for temporaries a
        // plugin leaves outside one (set-up, calibration, saves): they are freed when the run ends, not by the GC, and counted.
        using var temporaries = torch.NewDisposeScope();
        // Checked before the slow work (a newer or broken database is refused now, not after training); reopened to record.
        if (ResultsPath is not null) ResultsStore.Open(ResultsPath).Dispose();
        var started = DateTime.UtcNow;
        var p = Prepare(spec, data);
        RunLog? log = null;
        try
        {
            var callbacks = Callbacks(spec);   // a bad callback option is refused before the run's folder is made
            using var claim = resume ? new OutputFolder.Claimed(dir, OutputLock.Acquire(dir, "--resume"))
                : OutputFolder.Claim(dir, "output", unique: spec.Output is null);
            return Execute(spec, p, callbacks, claim.Directory, watch, cancel, started, resume, opened =>
            {
                log = opened;
                opened.LogInformation("precision {Precision} ({Reason})", precision.Name, precision.Reason);
            });
        }
        finally
        {
            p.Dispose();
            if (temporaries.DisposablesCount > 0)
                ((ILogger?)log ?? logger).LogInformation("{Count} tensors left outside any dispose scope were freed when the run ended",
                    temporaries.DisposablesCount);
            log?.Dispose();
        }
    }

    /// <summary>The experiment's callback plugins, each with its listener for this run.</summary>
    IReadOnlyList<(LoadedPlugin Plugin, ITrainingListener Listener)> Callbacks(ExperimentSpec spec) =>
        [.. (spec.Callbacks ?? []).Select((choice, i) =>
        {
            if (choice.With is not null) throw new OptionsException($"callbacks[{i}].with: only a method composes with others");
            var found = catalog.Find(PluginKind.Callback, choice.Name, $"callbacks[{i}].name");
            return (found, ((ITrainingCallback)found.Instance).CreateListener(choice.Options ?? default));
        })];

    RunResult Execute(ExperimentSpec spec, Prepared p, IReadOnlyList<(LoadedPlugin Plugin, ITrainingListener Listener)> callbacks,
        string dir, Stopwatch watch, CancellationToken cancel, DateTime started, bool resume, Action<RunLog> opened)
    {
        // The run's folder was claimed only now, with every input checked: bad input leaves no half-made run behind.
        var log = new RunLog(Path.Combine(dir, "run.log"), logger);
        opened(log);
        var provenance = new Dictionary<string, PluginProvenance>
        {
            ["method"] = p.Method.Provenance,
            ["objective"] = p.Objective.Provenance,
        };
        for (int i = 0; i < (spec.Method.With?.Count ?? 0); i++)   // composed methods: each plugin as the main one is recorded
            provenance[$"method.with[{i}]"] =
                catalog.Find(PluginKind.Method, spec.Method.With![i].Name, $"method.with[{i}].name").Provenance;
        for (int i = 0; i < p.Tasks.Count; i++) provenance[p.Multi is null ? "task" : TaskRole(i)] = p.Tasks[i].Provenance;
        for (int i = 0; i < callbacks.Count; i++) provenance[$"callbacks[{i}]"] = callbacks[i].Plugin.Provenance;
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), ExperimentFile.Serialize(spec with { Provenance = provenance }));
        if (p.Multi is null) RunTaskRecord.Write(dir, p.Data);
        log.LogInformation("run {Name}: method {Method}, objective {Objective}, task {Task}", spec.Name, spec.Method.Label,
            p.Objective.Manifest.Name, p.TaskName);
        foreach (var (role, plugin) in provenance)
            log.LogInformation("{Role} plugin {Name} {Version} from {Assembly} {AssemblyVersion} in {Folder}", role, plugin.Name,
                plugin.Version, plugin.Assembly, plugin.AssemblyVersion, plugin.Folder);
        if (p.Note is not null) log.LogInformation("{Note}", p.Note);
        log.LogInformation("data {Data}: {Train} train, {Dev} dev, labels [{Labels}]", p.Data.Name, p.Data.Train.Count, p.Data.Dev.Count,
            string.Join(", ", p.Data.Labels));

        if (p.Multi is { } multi)
            for (int m = 0; m < multi.Members.Count; m++)
                log.LogInformation("task {Key}: {Train} train, {Dev} dev, mixing rate {Rate:F4}", multi.Members[m].Key,
                    multi.Members[m].Data.Train.Count, multi.Members[m].Data.Dev.Count, multi.Mixture.Rates[m]);
        p.Model.GradientCheckpointing = spec.Training.GradientCheckpointing;
        var job = new FineTuneJob(p.Model, p.Attached, p.Instance, p.Scoring, p.Data, spec.Training, spec.Seed, dir)
        {
            MethodName = spec.Method.Label,
            TrainFor = p.Multi is { } mixed ? mixed.TrainFor : null,
            Listeners = [.. callbacks.Select(c => c.Listener)],
            Resume = resume,
        };
        var result = display(spec.Name, FineTuner.TotalSteps(p.Data.Train.Count, spec.Training),
            progress => FineTuner.Run(job, new Logged(progress, log), cancel));
        if (cancel.IsCancellationRequested)
        {
            // An interrupted run must not look finished: no metrics.json, no report; best/ keeps the best epoch it reached.
            log.LogWarning("run {Name} cancelled after {Steps} steps; {Dir} holds no metrics.json", spec.Name, result.Steps, dir);
            throw new OperationCanceledException(cancel);
        }

        var summary = new RunSummary
        {
            Name = spec.Name,
            Method = spec.Method.Label,
            Objective = p.Objective.Manifest.Name,
            Task = p.TaskName,
            Dataset = p.Data.Name,
            BestEpoch = result.BestEpoch,
            BestStep = result.BestStep,
            StoppedEarly = result.StoppedEarly,
            StopReason = result.StoppedEarly ? result.StopReason : null,
            TrainingMemoryMb = result.TrainingMemoryBytes / (1024.0 * 1024),
            Metrics = result.Metrics,
            PrimaryMetric = p.Data.PrimaryMetric,
            TrainableParameters = result.TrainableParameters,
            // The method's modules live in the model's tree, so one count covers the body, the method and the objective's head.
            TotalParameters = ParameterSet.Count(p.Model.parameters().Concat(p.Instance.Parameters.Select(x => x.Parameter))),
            Steps = result.Steps,
            Seconds = watch.Elapsed.TotalSeconds,
            Precision = spec.Precision,
        };
        RunFiles.WriteSummary(dir, summary);
        FineTuneCheckpoint.Delete(dir);   // finished: best/ is what remains to be used
        Record(dir, summary, started, result.Steps > 0 ? result.ExamplesPerSecond : null, result.MatmulGFlops, log);
        if (result.Steps > 0) Reports.LossReport.Write(dir);
        if (p.Multi is not null) Reports.TaskReport.Write(dir, spec.Name, p.Multi, result.Metrics);
        log.LogInformation("done: {Metrics}", FineTuner.Describe(result.Metrics));
        return new RunResult(dir, result.Metrics, result.TrainableParameters, watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// What can be checked of an experiment in a second, before any long work (a sweep's first run, the quickstart's
    /// pre-training): its plugins exist, the task reads its data with its options, the method attaches with its options to a
    /// shape-only model (the experiment's own shape), and the objective is built on it with its options.
    /// </summary>
    public void Check(ExperimentSpec spec) => Check(spec, null);

    /// <summary>As <see cref="Check(ExperimentSpec)"/>, for a model still to be made with <paramref name="shape"/>.</summary>
    public void Check(ExperimentSpec spec, GptConfig? shape)
    {
        var method = catalog.Find(PluginKind.Method, spec.Method.Name, "method.name");
        var objective = (IObjective)catalog.Find(PluginKind.Objective, spec.Objective.Name, "objective.name").Instance;
        var tasks = LoadTasks(spec, null);
        var (data, _, multi) = Compose(spec, tasks);
        // A model still to be made (the quickstart's, given by its shape) has no tokenizer yet: its objective is checked at run time.
        var tokenizer = shape is null ? LoadTokenizer(spec) : null;
        var config = shape
            ?? (spec.Model.Path is { } path ? GptCheckpoint.ReadConfig(ShippedData.ModelPath(path)) : Presets.Get(spec.Model.Preset!));
        // The vocabulary the run will have (as Prepare makes it): a preset's is the tokenizer's, a model folder's grows to fit it.
        int vocab = tokenizer is null ? config.Vocab
            : spec.Model.Path is null && shape is null ? tokenizer.VocabSize : Math.Max(config.Vocab, tokenizer.VocabSize);
        using var model = new Decoder(config with { Vocab = vocab }, torch.META);
        using var attached = MethodInstaller.Attach(Methods(spec, method), model);
        // A recipe shapes the objective's options per stage (PET's patterns, …): its stages are checked when they start.
        if (tokenizer is null || spec.Recipe is { Name.Length: > 0 }) return;
        using var scope = torch.NewDisposeScope();
        foreach (var context in ObjectiveContexts(spec, model, tokenizer, data, multi, tasks))
        {
            // The objective is built on the weightless model so its options are checked now; one that computes while it is built
            // (it needs real weights for that) has its remaining checks when its run starts.
            try { objective.Create(context).Dispose(); }
            catch (Exception e) when (e is not UserInputException) { }
        }
    }

    /// <summary>Rebuilds a finished run from its config.json, loads its best/ weights, and scores the dev set again.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(string runDirectory, CancellationToken cancel = default)
    {
        using var span = Telemetry.Source.StartActivity("evaluate");
        span?.SetTag("run", runDirectory);
        return Reloaded(runDirectory, null, (spec, p) => FineTuner.Evaluate(
            new FineTuneJob(p.Model, p.Attached, p.Instance, p.Scoring, p.Data, spec.Training, spec.Seed, runDirectory), 0,
            cancel: cancel));
    }

    public IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, CancellationToken cancel) =>
        Predict(runDirectory, examples, null, cancel);

    /// <summary>Predictions of a finished run; of its task <paramref name="task"/> (a data set's key) when it is a multi-task
    /// run.</summary>
    public IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, string? task,
        CancellationToken cancel) =>
        Reloaded(runDirectory, Reopened(runDirectory), (spec, p) =>
            FineTuner.Predict(p.Model, p.PerTask[TaskIndex(p.TaskKeys, task, runDirectory)], examples, Math.Max(1, spec.Training.BatchSize),
                cancel));

    /// <summary>The task data of one task of an experiment: its only one, or the multi-task member <paramref name="task"/>.</summary>
    public TaskData LoadTask(ExperimentSpec spec, string? task, string runDirectory)
    {
        if (spec.Tasks is null && task is null && Reopened(runDirectory) is { } stored) return stored;
        var (data, _, multi) = Compose(spec, LoadTasks(spec, null));
        int index = TaskIndex(KeysOf(data, multi), task, runDirectory);
        return multi is null ? data : multi.Members[index].Data;
    }

    /// <summary>A run's task keys, in the order its objectives are built: one task's data set name, or each member's key.</summary>
    static IReadOnlyList<string> KeysOf(TaskData data, MultiTask? multi) =>
        multi is null ? [data.Name] : [.. multi.Members.Select(t => t.Key)];

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
    public T Open<T>(string runDirectory, Func<OpenedRun, T> use) => Reloaded(runDirectory, Reopened(runDirectory), (spec, p) =>
        use(new OpenedRun(runDirectory, spec, p.Model, p.Tokenizer, p.Method.Manifest.Name, p.Attached, p.TaskKeys, p.PerTask)));

    /// <summary>A single-task run's task as it was loaded, when its training files cannot be read any more (moved, deleted):
    /// the run's own task.json; null when they can (the task is loaded from them) or for a multi-task run.</summary>
    TaskData? Reopened(string runDirectory)
    {
        var config = Path.Combine(runDirectory, "config.json");
        if (!File.Exists(config) || RunTaskRecord.Read(runDirectory) is not { } stored) return null;
        var spec = ExperimentFile.Load(config, []);
        if (spec.Tasks is not null || spec.Recipe is not null) return null;
        try { return LoadTasks(spec, null)[0].Data; }
        catch (UserInputException) { return stored; }
    }

    /// <summary>A finished run rebuilt from its config.json with its best/ weights, in the precision it recorded.</summary>
    T Reloaded<T>(string runDirectory, TaskData? data, Func<ExperimentSpec, Prepared, T> use)
    {
        var (finished, spec) = FinishedModel(runDirectory);
        if (finished != runDirectory) return Reloaded(finished, data, use);
        using var region = Autocast.Use(PrecisionSelector.Resolve(spec.Precision, DeviceSelector.Parse(spec.Device)).ComputeType);
        using var temporaries = torch.NewDisposeScope();
        using var p = Prepare(spec, data);
        var best = Path.Combine(runDirectory, FineTuner.BestDir);
        p.Attached.Load(best);
        p.Instance.Load(best);
        CheckFinite(best, p);
        return use(spec, p);
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

    /// <summary>Weights that went NaN or infinite score as a constant answer in <c>evaluate</c> and crash <c>predict</c>: every
    /// command that reopens the run refuses them alike, naming the first such tensor.</summary>
    static void CheckFinite(string best, Prepared p) => CheckFinite(best, ModelTensors(p.Model).Concat(HeadTensors(p.PerTask)));

    /// <summary>The model's parameters (body and attached method), by name.</summary>
    internal static IEnumerable<(string Name, torch.Tensor Tensor)> ModelTensors(Decoder model) =>
        model.named_parameters().Select(n => (n.name, (torch.Tensor)n.parameter));

    /// <summary>The objectives' own parameters (heads), named <c>head.NAME</c>.</summary>
    internal static IEnumerable<(string Name, torch.Tensor Tensor)> HeadTensors(IEnumerable<IObjectiveInstance> objectives) =>
        objectives.SelectMany(o => o.Parameters.Select(x => ($"head.{x.Name}", (torch.Tensor)x.Parameter)));

    internal static void CheckFinite(string best, IEnumerable<(string Name, torch.Tensor Tensor)> tensors)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var (name, tensor) in tensors)
            if (!tensor.isfinite().all().item<bool>())
                throw new CheckpointException($"{best}: {name} holds NaN or infinite values (the run diverged); train it again, " +
                    "e.g. with a lower training.lr");
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

    public RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds) =>
        Report(directory, spec, stages, seconds, []);

    public RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds,
        IReadOnlyList<string> chartMetrics)
    {
        if (stages.Count == 0) throw new InvalidOperationException("a recipe reports at least one stage");
        var last = stages[^1];
        var data = LoadTask(spec);
        var summary = new RunSummary
        {
            Name = spec.Name,
            Method = spec.Method.Label,
            Objective = spec.Objective.Name,
            Task = spec.Tasks is null ? spec.Task.Name : "multi-task",
            Dataset = data.Name,
            Metrics = last.Metrics,
            PrimaryMetric = data.PrimaryMetric,
            Seconds = seconds,
            Precision = spec.Precision,
            Stages = stages,
        };
        // The recipe's folder records the experiment as written (with the recipe and its provenance): it runs again as it is.
        var provenance = spec.Recipe is { Name.Length: > 0 } recipe
            ? new Dictionary<string, PluginProvenance>
            {
                ["recipe"] = catalog.Find(PluginKind.Recipe, recipe.Name, "recipe.name").Provenance,
            }
            : null;
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ExperimentFile.Serialize(spec with { Provenance = provenance }));
        RunFiles.WriteSummary(directory, summary);
        Record(directory, summary, DateTime.UtcNow - TimeSpan.FromSeconds(seconds), null, null, logger);
        Reports.StageReport.Write(directory, spec.Name, stages, chartMetrics.Count > 0 ? chartMetrics : [data.PrimaryMetric]);
        return new RunResult(directory, last.Metrics, 0, seconds);
    }

    /// <summary>Adds a finished run to the results database. The run's own files are its record: a database that fails now (full
    /// disk, another program's lock) costs the row, with a warning, never the run.</summary>
    void Record(string dir, RunSummary summary, DateTime started, double? examplesPerSecond, double? peak, ILogger log)
    {
        if (ResultsPath is null) return;
        try
        {
            using var results = ResultsStore.Open(ResultsPath);
            results.Record(RunRecord.Of(dir, summary, started, examplesPerSecond, peak));
        }
        catch (Exception e)   // best effort, whatever went wrong: the run's own folder is complete
        {
            log.LogWarning("run {Name} finished but was not recorded in {Database}: {Message}", summary.Name, ResultsPath, e.Message);
        }
    }

    /// <summary>Forwards progress to the display and writes epoch summaries to run.log.</summary>
    sealed class Logged(IProgress<TrainingProgress> inner, ILogger log) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p)
        {
            inner.Report(p);
            if (p.Message is not null) log.LogInformation("{Message}", p.Message);
        }
    }
}
