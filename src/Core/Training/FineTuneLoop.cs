using PluginGpt.Core.Training.Listeners;
using TorchSharp;

namespace PluginGpt.Core.Training;

/// <summary>
/// One fine-tuning run of <see cref="FineTuner.Run"/>, in the order it happens: set-up (trainable tensors, schedule, optimizer,
/// matmul peak), a resumed run's state, then epochs of steps (<see cref="TrainingStep"/> does each step's bookkeeping) with
/// evaluations that keep the best weights, checkpoints, and the result. What differs from pre-training lives here: epochs,
/// gradient accumulation, evaluation and the best weights.
/// </summary>
sealed class FineTuneLoop : IDisposable
{
    readonly FineTuneJob job;
    readonly TrainingSpec t;
    readonly IProgress<TrainingProgress>? progress;
    readonly CancellationToken cancel;
    readonly IReadOnlyList<TrainableTensor> trainable;
    readonly long trainableCount;
    readonly string metricsPath, bestMetric;
    readonly int batchesPerEpoch, totalSteps;
    readonly TrainingControl control = new();
    readonly List<IDisposable> owned = [];
    OptimizerStep optimizer = null!;
    EarlyStoppingListener? stoppingRule;
    TrainingEvents events = null!;
    TrainingStep steps = null!;
    double peak;

    IReadOnlyDictionary<string, double> best = new Dictionary<string, double>();
    int bestEpoch, bestStep, step, evaluations, firstEpoch = 1, firstBatch;
    double trainingSeconds, bestScore = double.NegativeInfinity;
    long examplesSeen;

    public FineTuneLoop(FineTuneJob job, IProgress<TrainingProgress>? progress, CancellationToken cancel)
    {
        (this.job, t, this.progress, this.cancel) = (job, job.Training, progress, cancel);
        trainable = FineTuner.Trainable(job);
        trainableCount = trainable.Sum(p => p.Parameter.numel());
        metricsPath = Path.Combine(job.RunDirectory, RunFiles.MetricsLines);
        bestMetric = t.BestMetric ?? job.Data.PrimaryMetric;
        batchesPerEpoch = (job.Data.Train.Count + t.BatchSize - 1) / t.BatchSize;
        totalSteps = FineTuner.TotalSteps(job.Data.Train.Count, t);
    }

    public FineTuneResult Run()
    {
        if (!job.Objective.Trains) return EvaluateOnly();
        SetUp();
        if (job.Resume) ResumeState();
        // Opened after a resume cut the file back (the cut replaces the file: a writer opened before would write to the old one).
        var metrics = Own(new StreamWriter(metricsPath, append: job.Resume) { AutoFlush = true });
        events = new TrainingEvents(FineTuner.ListenersFor(job, metrics, progress, totalSteps, peak, stoppingRule), control);
        events.RunStart(new TrainingRunInfo(job.RunDirectory, totalSteps, trainableCount, bestMetric));
        steps = new TrainingStep(job.Model, optimizer, events);
        var memory = TrainingMemory.Start(job.Model.Device);   // optimizer state is made at the first step: counted
        for (int epoch = firstEpoch; epoch <= t.Epochs && step < totalSteps && !Stopping(); epoch++)
        {
            TrainEpoch(epoch);
            if (cancel.IsCancellationRequested) break;   // a partial epoch is neither scored nor kept
            EndEpoch(epoch);
        }
        string? stopReason = cancel.IsCancellationRequested ? "cancelled" : step < totalSteps ? control.StopReason : null;
        events.RunEnd(new RunEndEvent(step, bestStep, stopReason));
        return new FineTuneResult(best, bestEpoch, trainableCount, step)
        {
            BestStep = bestStep,
            StoppedEarly = control.StopRequested && step < totalSteps,
            StopReason = stopReason,
            TrainingMemoryBytes = memory.PeakGrowthBytes,
            ExamplesPerSecond = trainingSeconds > 0 ? examplesSeen / trainingSeconds : null,
            MatmulGFlops = peak,
        };
    }

    /// <summary>An objective that trains nothing (in-context, zero-shot): scored once, its state kept as the best.</summary>
    FineTuneResult EvaluateOnly()
    {
        using var lines = new StreamWriter(metricsPath, append: false) { AutoFlush = true };
        var only = new TrainingEvents(FineTuner.ListenersFor(job, lines, null, 0, 0));
        only.RunStart(new TrainingRunInfo(job.RunDirectory, 0, 0, bestMetric));
        var scores = FineTuner.Evaluate(job, 0);
        only.Evaluation(new EvaluationEvent(0, 0, scores, scores.GetValueOrDefault(bestMetric), IsBest: true));
        FineTuner.SaveBest(job);
        only.BestSaved(new BestSavedEvent(0, Path.Combine(job.RunDirectory, FineTuner.BestDir)));
        only.RunEnd(new RunEndEvent(0, 0, null));
        return new FineTuneResult(scores, 0, 0, 0);
    }

    void SetUp()
    {
        if (trainableCount == 0)
            throw new OptionsException($"method '{job.MethodName}': nothing to train (0 trainable parameters); check method.options");
        foreach (var p in trainable) p.Parameter.requires_grad = true;
        var schedule = new LearningRateSchedule(t.LearningRate, 0, (int)Math.Ceiling(t.WarmupFraction * totalSteps), totalSteps,
            t.Schedule);
        optimizer = Own(new OptimizerStep(trainable, schedule, t.WeightDecay, t.GradClip,
            new Optimizers.OptimizerChoice(t.Optimizer, Beta2: 0.999, Momentum: t.Momentum)));
        // Tokens/s come from the decoder's own token counters; MFU from a matmul peak (measured once per process), in the
        // precision the run computes in (its Autocast region), so it compares like with like.
        peak = MatmulPeak.UtilisationPeakGFlops(job.Model.Device, Autocast.ComputeType ?? torch.ScalarType.Float32);
        Own(Autocast.CacheFrozenCasts());   // a frozen body is cast to bf16 once per run, not per step
        stoppingRule = t.EarlyStopping is { } stoppingSpec ? new EarlyStoppingListener(stoppingSpec) : null;
    }

    /// <summary>A resumed run's position, and the evaluations its checkpoint counted replayed: they decide the best so far and
    /// early stopping's count, as they did then.</summary>
    void ResumeState()
    {
        var state = FineTuneCheckpoint.Load(job, optimizer);
        (step, firstEpoch, firstBatch, evaluations) = (state.Step, state.Epoch, state.NextBatch, state.Evaluations);
        (examplesSeen, trainingSeconds) = (state.ExamplesSeen, state.TrainingSeconds);
        foreach (var e in FineTuner.ResumedLines(metricsPath, state).Where(l => l.Eval is not null))
        {
            double score = t.KeepsLast ? double.PositiveInfinity : e.Eval!.GetValueOrDefault(bestMetric, double.NaN);
            stoppingRule?.Replay(score, control);
            if (score > bestScore) (bestScore, best, bestEpoch, bestStep) = (score, e.Eval!, e.Epoch ?? 0, e.Step ?? 0);
        }
        progress?.Report(TrainingProgress.Note(totalSteps, $"resumed after step {step} (epoch {firstEpoch})"));
    }

    /// <summary>One epoch's optimizer steps (a resumed run starts inside its first), scored and checkpointed by steps when
    /// asked.</summary>
    void TrainEpoch(int epoch)
    {
        using var epochSpan = Telemetry.Source.StartActivity("epoch");
        epochSpan?.SetTag("epoch", epoch);
        var train = job.TrainFor?.Invoke(epoch) ?? job.Data.Train;
        var order = FineTuner.Shuffled(train.Count, TokenDataset.StableSeed(job.Seed, 3, epoch));
        job.Model.Module.train();
        steps.Restart();
        for (int b = epoch == firstEpoch ? firstBatch : 0; b < batchesPerEpoch && step < totalSteps && !Stopping(); b++)
        {
            using var scope = torch.NewDisposeScope();   // also what an evaluation or checkpoint after the step leaves
            var batch = order.Skip(b * t.BatchSize).Take(t.BatchSize).Select(i => train[i]).ToList();
            examplesSeen += batch.Count;
            int atStep = step + 1;
            steps.Accumulate(TokenDataset.StableSeed(job.Seed, 4, epoch * 1_000_003L + b), batch.Count,
                () => job.Objective.Loss(batch), t.GradientAccumulation,
                loss => $"step {atStep} (epoch {epoch}): the training loss is {loss} (training diverged); " +
                    $"lower training.lr (was {t.LearningRate}) or raise training.warmup", () => job.Objective.LossParts);
            if ((b + 1) % t.GradientAccumulation != 0 && b + 1 != batchesPerEpoch) continue;
            steps.Step(++step, epoch);
            bool evaluate = t.EvalEvery > 0 && !cancel.IsCancellationRequested && (step % t.EvalEvery == 0 || step == totalSteps);
            if (evaluate) EvaluateAndKeep(epoch);
            if (evaluate || (t.CheckpointEvery > 0 && step % t.CheckpointEvery == 0)) Checkpoint(epoch, b + 1);
        }
        trainingSeconds += steps.Elapsed;
    }

    /// <summary>After an epoch: scored (unless by steps, or once at the end for keep = last), and checkpointed after an evaluation
    /// or when asked for steps (few-shot runs' many tiny epochs write none in between).</summary>
    void EndEpoch(int epoch)
    {
        bool finalEpoch = epoch == t.Epochs || step >= totalSteps || control.StopRequested;
        bool evaluated = t.EvalEvery == 0 && !(t.KeepsLast && !finalEpoch);
        if (evaluated) EvaluateAndKeep(epoch);
        if (!control.StopRequested && (evaluated || t.CheckpointEvery > 0)) Checkpoint(epoch + 1, 0);
    }

    /// <summary>Scores the dev set after the current step and keeps the weights when they are the best so far.</summary>
    void EvaluateAndKeep(int epoch)
    {
        var scores = FineTuner.Evaluate(job, epoch, step: step);
        evaluations++;
        if (!t.KeepsLast && !scores.ContainsKey(bestMetric))
            throw new OptionsException($"training.best_metric: the task reports no \"{bestMetric}\"; it reports " +
                string.Join(", ", scores.Keys));
        double score = t.KeepsLast ? double.PositiveInfinity : scores[bestMetric];
        bool isBest = score > bestScore;
        events.Evaluation(new EvaluationEvent(step, epoch, scores, score, isBest));
        if (!isBest) return;
        (bestScore, best, bestEpoch, bestStep) = (score, scores, epoch, step);
        FineTuner.SaveBest(job);
        events.BestSaved(new BestSavedEvent(step, Path.Combine(job.RunDirectory, FineTuner.BestDir)));
    }

    /// <summary>Everything the next step needs, written after the step's evaluation, if any.</summary>
    void Checkpoint(int epoch, int nextBatch) => FineTuneCheckpoint.Save(job, optimizer, new FineTuneState
    {
        Step = step,
        Epoch = epoch,
        NextBatch = nextBatch,
        Evaluations = evaluations,
        ExamplesSeen = examplesSeen,
        TrainingSeconds = trainingSeconds,
    });

    bool Stopping() => cancel.IsCancellationRequested || control.StopRequested;

    T Own<T>(T disposable) where T : IDisposable
    {
        owned.Add(disposable);
        return disposable;
    }

    /// <summary>In reverse order: the metrics file, the frozen-cast cache, the optimizer.</summary>
    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
    }
}
