using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PluginGpt.Core;
using PluginGpt.Core.Training;
using PluginGpt.Runs.Plugins;
using TorchSharp;

namespace PluginGpt.Runs;

/// <summary>How a runner shows a run's progress: given the run's name (a recipe's stage is <c>experiment/stage</c>), the total
/// steps and the work, it runs the work (with a bar or plain lines).</summary>
public delegate FineTuneResult RunDisplay(string run, int totalSteps, Func<IProgress<TrainingProgress>, FineTuneResult> work);

/// <summary>
/// Runs experiments, in the order a run happens: the folder is chosen, the run assembled (<see cref="RunAssembler"/>), the
/// folder claimed and begun (<see cref="RunFolderWriter"/>), the core's loop trains, and the folder is finished. A recipe's
/// stages come back through <see cref="RunAsync(ExperimentSpec, TaskData, CancellationToken)"/>; task data is loaded once per
/// runner. Finished runs are reopened by <see cref="Finished"/>.
/// </summary>
public sealed class ExperimentRunner : IExperimentRunner
{
    readonly PluginCatalog catalog;
    readonly RunDisplay display;
    readonly ILogger logger;
    readonly RunAssembler assembler;
    readonly Lazy<RunFolderWriter> folders;

    public ExperimentRunner(PluginCatalog catalog, RunDisplay display, ILogger? logger = null)
    {
        this.catalog = catalog;
        this.display = display;
        this.logger = logger ?? NullLogger.Instance;
        assembler = new RunAssembler(catalog);
        folders = new(() => new RunFolderWriter(ResultsPath, this.logger));
        Finished = new FinishedRuns(assembler);
    }

    /// <summary>The results database every finished run (and recipe) is recorded in; null records nothing.</summary>
    public string? ResultsPath { get; init; }

    /// <summary>Finished runs reopened (evaluate, predict, export, generate, named adapters), sharing this runner's task data.</summary>
    public FinishedRuns Finished { get; }

    /// <summary>How many times this runner read a task's data from its files.</summary>
    public int TaskLoads => assembler.TaskLoads;

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

    public TaskData LoadTask(ExperimentSpec spec) => RunAssembler.Compose(spec, assembler.LoadTasks(spec, null)).Data;

    public IReadOnlyDictionary<string, double> Score(ExperimentSpec spec, IReadOnlyList<Prediction> predictions,
        IReadOnlyList<Example> gold) => RunAssembler.Compose(spec, assembler.LoadTasks(spec, null)).Scoring.Score(predictions, gold);

    public IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, CancellationToken cancel) =>
        Finished.Predict(runDirectory, examples, null, cancel);

    /// <summary>What can be checked of an experiment in a second, before any long work (see <see cref="RunAssembler.Check"/>).
    /// </summary>
    public void Check(ExperimentSpec spec) => assembler.Check(spec, null);

    /// <summary>As <see cref="Check(ExperimentSpec)"/>, for a model still to be made with <paramref name="shape"/>.</summary>
    public void Check(ExperimentSpec spec, GptConfig? shape) => assembler.Check(spec, shape);

    public RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds) =>
        Report(directory, spec, stages, seconds, []);

    public RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds,
        IReadOnlyList<string> chartMetrics)
    {
        var recipe = spec.Recipe is { Name.Length: > 0 } r ? catalog.Find(PluginKind.Recipe, r.Name, "recipe.name").Provenance : null;
        return folders.Value.FinishRecipe(directory, spec, LoadTask(spec), recipe, stages, seconds, chartMetrics);
    }

    /// <summary>runs/NAME-TIME: the name made folder-safe (it stays inside runs/); a taken one gets a suffix when claimed.</summary>
    static string DefaultFolder(ExperimentSpec spec) =>
        Path.GetFullPath(Path.Combine("runs", $"{OutputFolder.SafeName(spec.Name)}-{DateTime.Now:yyyyMMdd-HHmmss}"));

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
        folders.Value.CheckResults();
        var started = DateTime.UtcNow;
        var run = assembler.Assemble(spec, data);
        RunLog? log = null;
        try
        {
            var callbacks = assembler.Callbacks(spec);   // a bad callback option is refused before the run's folder is made
            using var claim = resume ? new OutputFolder.Claimed(dir, OutputLock.Acquire(dir, "--resume"))
                : OutputFolder.Claim(dir, "output", unique: spec.Output is null);
            // The run's folder was claimed only now, with every input checked: bad input leaves no half-made run behind.
            log = folders.Value.Begin(claim.Directory, spec, run, callbacks);
            if (run.Multi is null) assembler.RanWith(claim.Directory, run.Data);
            log.LogInformation("precision {Precision} ({Reason})", precision.Name, precision.Reason);
            var result = Train(spec, run, callbacks, claim.Directory, log, resume, cancel);
            folders.Value.Finish(claim.Directory, spec, run, result, watch.Elapsed.TotalSeconds, started, log);
            return new RunResult(claim.Directory, result.Metrics, result.TrainableParameters, watch.Elapsed.TotalSeconds);
        }
        finally
        {
            run.Dispose();
            if (temporaries.DisposablesCount > 0)
                ((ILogger?)log ?? logger).LogInformation("{Count} tensors left outside any dispose scope were freed when the run ended",
                    temporaries.DisposablesCount);
            log?.Dispose();
        }
    }

    /// <summary>The core's fine-tuning loop on the assembled run, shown by the display; a cancelled run stops here, leaving no
    /// metrics.json (it must not look finished; best/ keeps the best epoch it reached).</summary>
    FineTuneResult Train(ExperimentSpec spec, AssembledRun run, IReadOnlyList<(LoadedPlugin Plugin, ITrainingListener Listener)> callbacks,
        string dir, ILogger log, bool resume, CancellationToken cancel)
    {
        run.Model.GradientCheckpointing = spec.Training.GradientCheckpointing;
        var job = new FineTuneJob(run.Model, run.Attached, run.Instance, run.Scoring, run.Data, spec.Training, spec.Seed, dir)
        {
            MethodName = spec.Method.Label,
            TrainFor = run.Multi is { } mixed ? mixed.TrainFor : null,
            Listeners = [.. callbacks.Select(c => c.Listener)],
            Resume = resume,
        };
        var result = display(spec.Name, FineTuner.TotalSteps(run.Data.Train.Count, spec.Training),
            progress => FineTuner.Run(job, new Logged(progress, log), cancel));
        if (!cancel.IsCancellationRequested) return result;
        log.LogWarning("run {Name} cancelled after {Steps} steps; {Dir} holds no metrics.json", spec.Name, result.Steps, dir);
        throw new OperationCanceledException(cancel);
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
