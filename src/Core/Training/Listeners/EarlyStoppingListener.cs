namespace PluginGpt.Core.Training.Listeners;

/// <summary><c>training.early_stopping</c> as a listener: watches each evaluation's score and stops the run when
/// <see cref="EarlyStopping"/> says so.</summary>
public sealed class EarlyStoppingListener(EarlyStoppingSpec spec) : ITrainingListener
{
    readonly EarlyStopping rule = new(spec);

    public void OnEvaluation(EvaluationEvent evaluation, TrainingControl control) => Replay(evaluation.Score, control);

    /// <summary>Takes a score (a live evaluation, or one recorded before a resume).</summary>
    public void Replay(double score, TrainingControl control)
    {
        rule.Observe(score);
        if (rule.ShouldStop)
            control.RequestStop($"early stopping: no gain above {spec.MinDelta} in {spec.Patience} evaluations");
    }
}
