namespace PluginGpt.Core.Training.Listeners;

/// <summary>Feeds the progress display: the epoch's running mean loss (calmer to read than each step's), its mean step time,
/// and a line per evaluation.</summary>
public sealed class ProgressListener(IProgress<TrainingProgress> progress, int totalSteps, bool byStep) : ITrainingListener
{
    int epoch, epochSteps;
    double epochLoss, epochSeconds, lastLearningRate;

    public void OnStepEnd(StepEndEvent step, TrainingControl control)
    {
        if (step.Epoch != epoch) (epoch, epochSteps, epochLoss, epochSeconds) = (step.Epoch, 0, 0, 0);
        epochSteps++;
        epochLoss += step.Loss;
        epochSeconds += step.StepSeconds;
        lastLearningRate = step.LearningRate;
        progress.Report(new TrainingProgress(step.Step, totalSteps, epochLoss / epochSteps, step.LearningRate, step.ExamplesPerSecond,
            epochSeconds / epochSteps, ThroughputUnit: "ex/s"));
    }

    public void OnEvaluation(EvaluationEvent evaluation, TrainingControl control) =>
        progress.Report(new TrainingProgress(evaluation.Step, totalSteps, epochSteps > 0 ? epochLoss / epochSteps : double.NaN,
            lastLearningRate, 0, 0,
            Message: $"{(byStep ? $"step {evaluation.Step}" : $"epoch {evaluation.Epoch}")}: {FineTuner.Describe(evaluation.Metrics)}"));

    public void OnRunEnd(RunEndEvent end)
    {
        if (end.StopReason is { } reason && end.Steps < totalSteps)
            progress.Report(TrainingProgress.Note(totalSteps, $"stopped after step {end.Steps}: {reason}"));
    }
}
