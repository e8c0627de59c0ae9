using System.Diagnostics;
using PluginGpt.Core.Training.Listeners;
using TorchSharp;

namespace PluginGpt.Core.Training;

/// <summary>Everything the shared loop needs for one experiment.</summary>
public sealed record FineTuneJob(IDecoder Model, IAttachedMethod Method, IObjectiveInstance Objective, ITaskPlugin Task, TaskData Data,
    TrainingSpec Training, int Seed, string RunDirectory)
{
    /// <summary>The method's plugin name, for messages.</summary>
    public string MethodName { get; init; } = "method";
    /// <summary>Continue from the run folder's <see cref="FineTuneCheckpoint"/> instead of starting.</summary>
    public bool Resume { get; init; }
    /// <summary>The run's callback plugins' listeners, called after the host's own. Since SDK 2.4.</summary>
    public IReadOnlyList<ITrainingListener> Listeners { get; init; } = [];
    /// <summary>Epoch e's training examples (1-based), when they change between epochs (a multi-task mixture's draws); the same
    /// number every epoch. Default: <see cref="TaskData.Train"/>.</summary>
    public Func<int, IReadOnlyList<Example>>? TrainFor { get; init; }
}

/// <summary>Result: the best epoch's metrics and where they came from.</summary>
public sealed record FineTuneResult(IReadOnlyDictionary<string, double> Metrics, int BestEpoch, long TrainableParameters, int Steps)
{
    /// <summary>The optimizer step after which the kept weights were scored (0 when nothing trained).</summary>
    public int BestStep { get; init; }
    /// <summary>Whether early stopping or a callback ended the run before its planned steps.</summary>
    public bool StoppedEarly { get; init; }
    /// <summary>Why the run ended before its planned steps (a callback's or early stopping's reason, or a cancellation).</summary>
    public string? StopReason { get; init; }
    /// <summary>Memory training added at its peak (<see cref="TrainingMemory"/>); null where it cannot be measured.</summary>
    public long? TrainingMemoryBytes { get; init; }
    /// <summary>Training examples per second over the whole run (evaluations left out); null when nothing trained.</summary>
    public double? ExamplesPerSecond { get; init; }
    /// <summary>The matmul peak (GFLOP/s) measured for MFU, in the run's precision; null when nothing trained.</summary>
    public double? MatmulGFlops { get; init; }
}

/// <summary>
/// The one training/evaluation loop every method × objective × task runs through: seeded shuffling, the chosen optimizer
/// (AdamW unless told) with warmup and a decay schedule, gradient accumulation, clipping, evaluation after every epoch or every
/// <c>eval_every</c> steps, early stopping, and the best evaluation's weights kept in <c>best/</c> (method weights + task head,
/// written to a fresh folder and swapped in).
/// </summary>
public static class FineTuner
{
    public const string BestDir = "best";

    public static FineTuneResult Run(FineTuneJob job, IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        using var loop = new FineTuneLoop(job, progress, cancel);
        return loop.Run();
    }

    /// <summary>The host's own listeners (metrics.jsonl, telemetry, the progress display, early stopping), then the run's
    /// callback plugins', in the experiment's order.</summary>
    internal static IEnumerable<ITrainingListener> ListenersFor(FineTuneJob job, StreamWriter metrics,
        IProgress<TrainingProgress>? progress, int totalSteps, double peak, EarlyStoppingListener? stopping = null)
    {
        yield return new MetricsFileListener(metrics);
        if (totalSteps > 0) yield return new TelemetryListener(job.Model, peak);
        if (progress is not null) yield return new ProgressListener(progress, totalSteps, job.Training.EvalEvery > 0);
        if (stopping is not null) yield return stopping;
        foreach (var listener in job.Listeners) yield return listener;
    }

    /// <summary>metrics.jsonl cut back to what the checkpoint covers (its steps, its evaluations), rewritten whole; what it
    /// keeps.</summary>
    internal static IReadOnlyList<MetricsLine> ResumedLines(string path, FineTuneState state)
    {
        var kept = new List<MetricsLine>();
        int evaluations = 0;
        foreach (var line in File.Exists(path) ? RunFiles.ReadLines(path) : [])
        {
            if (line.Eval is not null ? ++evaluations <= state.Evaluations : line.Step <= state.Step) kept.Add(line);
        }
        using (var writer = new StringWriter())
        {
            foreach (var line in kept) RunFiles.Append(writer, line);
            AtomicFile.WriteAllText(path, writer.ToString());
        }
        return kept;
    }

    /// <summary>The method's and the objective's trainable tensors (a shared one once) with the settings each owner declared.</summary>
    public static IReadOnlyList<TrainableTensor> Trainable(FineTuneJob job)
    {
        var seen = new HashSet<IntPtr>();
        return job.Method.Trainable.Select(p => new TrainableTensor(p.Name, p.Parameter, job.Method.SettingsFor(p.Name, p.Parameter)))
            .Concat(job.Objective.Parameters
                .Select(p => new TrainableTensor(p.Name, p.Parameter, job.Objective.SettingsFor(p.Name, p.Parameter))))
            .Where(p => seen.Add(p.Parameter.Handle)).ToList();
    }

    /// <summary>Optimizer steps of a run: an epoch's last, partial accumulation still makes a step; <c>max_steps</c> caps it.</summary>
    public static int TotalSteps(int examples, TrainingSpec t)
    {
        long perEpoch = t.StepsPerEpoch(examples);
        long total = perEpoch * t.Epochs;
        if (t.MaxSteps > 0) return (int)Math.Min(t.MaxSteps, total);
        if (total > int.MaxValue)
            throw new OptionsException($"training.epochs: {t.Epochs} epochs of {perEpoch} steps is {total} steps, more than a run can " +
                "count; use fewer epochs or set training.max_steps");
        return (int)total;
    }

    public static string Describe(IReadOnlyDictionary<string, double> scores) =>
        string.Join(", ", scores.Select(s => $"{s.Key} {s.Value:F4}"));

    /// <summary>The objective's predictions on <paramref name="examples"/>, in batches, the model in eval mode; those of one of its
    /// <see cref="IObjectiveInstance.Alternatives"/> when <paramref name="alternative"/> names it.</summary>
    public static IReadOnlyList<Prediction> Predict(IDecoder model, IObjectiveInstance objective, IReadOnlyList<Example> examples,
        int batch, CancellationToken cancel = default, string? alternative = null)
    {
        bool wasTraining = model.Module.training;
        model.Module.eval();
        using var casts = Autocast.CacheCasts();   // no weight changes during a pass: each is cast once
        var predictions = new List<Prediction>();
        for (int i = 0; i < examples.Count; i += batch)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var part = examples.Skip(i).Take(batch).ToList();
            predictions.AddRange(alternative is null ? objective.Predict(part) : objective.PredictAlternative(alternative, part));
        }
        model.Module.train(wasTraining);
        return predictions;
    }

    /// <summary>Predicts the dev set in batches and scores it with the task's metrics; each of the objective's alternative ways
    /// to predict is scored too, as <c>NAME.metric</c> with <c>NAME.invalid_rate</c> (answers outside the label set).</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(FineTuneJob job, int epoch, CancellationToken cancel = default,
        int? step = null)
    {
        using var span = Telemetry.Source.StartActivity("evaluation");
        if (job.Data.Dev.Count == 0) throw new DataException($"task {job.Data.Name}: the dev set is empty, so there is nothing to score");
        int batch = Math.Max(1, job.Training.BatchSize);
        var watch = Stopwatch.StartNew();
        var predictions = Predict(job.Model, job.Objective, job.Data.Dev, batch, cancel);
        Telemetry.EvalExamplesPerSecond.Record(job.Data.Dev.Count / watch.Elapsed.TotalSeconds);
        var scores = new Dictionary<string, double>(job.Task.Score(predictions, job.Data.Dev));
        if (job.Objective.MayAnswerInvalid || predictions.Any(p => p.Invalid)) scores["invalid_rate"] = InvalidRate(predictions);
        foreach (var alternative in job.Objective.Alternatives)
        {
            var other = Predict(job.Model, job.Objective, job.Data.Dev, batch, cancel, alternative);
            foreach (var (k, v) in job.Task.Score(other, job.Data.Dev)) scores[$"{alternative}.{k}"] = v;
            scores[$"{alternative}.invalid_rate"] = InvalidRate(other);
        }
        if (scores.TryGetValue(job.Data.PrimaryMetric, out var primary)) Telemetry.EvalScore.Record(primary);
        span?.SetTag("epoch", epoch);
        foreach (var (k, v) in scores) span?.SetTag("metric." + k, v);
        span?.SetTag("step", step);
        return scores;
    }

    static double InvalidRate(IReadOnlyList<Prediction> predictions) =>
        predictions.Count == 0 ? 0 : predictions.Count(p => p.Invalid) / (double)predictions.Count;

    internal static void SaveBest(FineTuneJob job)
    {
        AtomicDirectory.Replace(Path.Combine(job.RunDirectory, BestDir), fresh =>
        {
            job.Method.Save(fresh);
            job.Objective.Save(fresh);
        });
    }

    internal static int[] Shuffled(int count, int seed)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(seed).Shuffle(order);
        return order;
    }
}
