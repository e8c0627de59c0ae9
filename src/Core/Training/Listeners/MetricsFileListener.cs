namespace PluginGpt.Core.Training.Listeners;

/// <summary>Writes <c>metrics.jsonl</c>: a line per optimizer step (its own loss: a running mean would restart at every epoch and
/// draw cliffs that are not in the training) and one per evaluation.</summary>
public sealed class MetricsFileListener(StreamWriter writer) : ITrainingListener
{
    public void OnStepEnd(StepEndEvent step, TrainingControl control) => RunFiles.Append(writer, new MetricsLine
    {
        Epoch = step.Epoch,
        Step = step.Step,
        Loss = step.Loss,
        LearningRate = step.LearningRate,
        Parts = step.Parts,
    });

    public void OnEvaluation(EvaluationEvent evaluation, TrainingControl control) =>
        RunFiles.Append(writer, new MetricsLine { Epoch = evaluation.Epoch, Step = evaluation.Step, Eval = evaluation.Metrics });
}
