using System.Text.Json;

namespace PluginGpt.Abstractions;

/// <summary>
/// A training-callback plugin (<see cref="PluginKind.Callback"/>): it acts on a fine-tuning run's events — log them somewhere,
/// stop the run, keep extra files. An experiment names its callbacks in <c>callbacks</c> (each a name and options); the host
/// makes one listener per run (and per recipe stage) with <see cref="CreateListener"/>. The host's own progress display,
/// telemetry, <c>metrics.jsonl</c> and early stopping are listeners of the same kind, called before the plugins'. Since SDK 2.4.
/// </summary>
public interface ITrainingCallback : IPlugin
{
    /// <summary>The listener for one run; <paramref name="options"/> is the experiment's <c>callbacks[i].options</c> (or
    /// <c>default</c>; <see cref="PluginOptions.Bind{T}"/> reads them). Throw <see cref="OptionsException"/> for a bad option: the
    /// run is refused before its first step.</summary>
    ITrainingListener CreateListener(JsonElement options);
}

/// <summary>Receives a run's events, in this order: <see cref="OnRunStart"/>, then per optimizer step <see cref="OnStepEnd"/>
/// and, where the dev set is scored, <see cref="OnEvaluation"/> followed by <see cref="OnBestSaved"/> when that evaluation is
/// the best so far, then <see cref="OnRunEnd"/> (also after a cancelled or stopped run). Every member has an empty default.
/// Since SDK 2.4.</summary>
public interface ITrainingListener
{
    /// <summary>Before the first step.</summary>
    void OnRunStart(TrainingRunInfo run) { }
    /// <summary>After each optimizer step.</summary>
    void OnStepEnd(StepEndEvent step, TrainingControl control) { }
    /// <summary>After each scoring of the dev set.</summary>
    void OnEvaluation(EvaluationEvent evaluation, TrainingControl control) { }
    /// <summary>After the best weights so far were written to <see cref="BestSavedEvent.Directory"/>.</summary>
    void OnBestSaved(BestSavedEvent saved) { }
    /// <summary>After the last step (or a stop, or a cancellation).</summary>
    void OnRunEnd(RunEndEvent end) { }
}

/// <summary>What a run is, as it starts.</summary>
/// <param name="RunDirectory">the run folder (a listener may write its own files there).</param>
/// <param name="TotalSteps">the optimizer steps planned.</param>
/// <param name="TrainableParameters">the parameters being trained.</param>
/// <param name="PrimaryMetric">the dev metric that picks the best evaluation.</param>
public sealed record TrainingRunInfo(string RunDirectory, int TotalSteps, long TrainableParameters, string PrimaryMetric);

/// <summary>One optimizer step done.</summary>
/// <param name="Step">1-based step number.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">the step's own loss (the mean over its accumulated batches).</param>
/// <param name="LearningRate">the learning rate the step used.</param>
/// <param name="StepSeconds">the step's wall time.</param>
/// <param name="ExamplesPerSecond">training examples per second so far this epoch.</param>
/// <param name="TokensPerSecond">tokens forwarded per second so far this epoch (0 when the model does not count them).</param>
/// <param name="Parts">the objective's named loss terms (e.g. <c>task</c>, <c>lm</c>), null when it has one.</param>
public sealed record StepEndEvent(int Step, int Epoch, double Loss, double LearningRate, double StepSeconds, double ExamplesPerSecond,
    double TokensPerSecond, IReadOnlyDictionary<string, double>? Parts);

/// <summary>The dev set scored.</summary>
/// <param name="Step">the step after which it was scored.</param>
/// <param name="Epoch">the epoch it was scored in.</param>
/// <param name="Metrics">every metric the task reported.</param>
/// <param name="Score">the metric that picks the best (<c>training.best_metric</c> or the task's primary).</param>
/// <param name="IsBest">whether this is the best evaluation so far (its weights are being kept).</param>
public sealed record EvaluationEvent(int Step, int Epoch, IReadOnlyDictionary<string, double> Metrics, double Score, bool IsBest);

/// <summary>The best weights so far written.</summary>
/// <param name="Step">the step they were scored after.</param>
/// <param name="Directory">the folder holding them (<c>best/</c>).</param>
public sealed record BestSavedEvent(int Step, string Directory);

/// <summary>The run over.</summary>
/// <param name="Steps">optimizer steps taken.</param>
/// <param name="BestStep">the step whose weights were kept (0 when none).</param>
/// <param name="StopReason">why it ended before its planned steps (a listener's stop, early stopping, a cancellation); null when
/// it ran them all.</param>
public sealed record RunEndEvent(int Steps, int BestStep, string? StopReason);

/// <summary>Lets a listener end training after the current step or evaluation (the run then reports its best as usual).</summary>
public sealed class TrainingControl
{
    /// <summary>The first stop requested, null while training goes on.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Whether a stop was requested.</summary>
    public bool StopRequested => StopReason is not null;

    /// <summary>Ends training after the current step or evaluation; <paramref name="reason"/> is shown and kept.</summary>
    public void RequestStop(string reason) => StopReason ??= reason;
}
