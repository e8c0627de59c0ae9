namespace PluginGpt.Core.Training.Listeners;

/// <summary><c>training.early_stopping</c> as a listener: watches each evaluation's score and stops the run when
/// <see cref="EarlyStopping"/> says so.</summary>
public sealed class EarlyStoppingListener(EarlyStoppingSpec spec) : ITrainingListener
{
    readonly EarlyStopping rule = new(spec);

    public void OnEvaluation(EvaluationEvent evaluation, TrainingControl control)
    {
        rule.Observe(evaluation.Score);
        if (rule.ShouldStop)
            control.RequestStop($"early stopping: no gain above {spec.MinDelta} in {spec.Patience} evaluations");
    }
}
