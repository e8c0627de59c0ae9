namespace PluginGpt.Core.Training.Listeners;

/// <summary>Hands each training event to every listener, in order.</summary>
public sealed class TrainingEvents(IEnumerable<ITrainingListener> listeners, TrainingControl? control = null)
{
    readonly ITrainingListener[] listeners = [.. listeners];
    readonly TrainingControl control = control ?? new TrainingControl();

    public void RunStart(TrainingRunInfo run) { foreach (var l in listeners) l.OnRunStart(run); }
    public void StepEnd(StepEndEvent step) { foreach (var l in listeners) l.OnStepEnd(step, control); }
    public void Evaluation(EvaluationEvent evaluation) { foreach (var l in listeners) l.OnEvaluation(evaluation, control); }
    public void BestSaved(BestSavedEvent saved) { foreach (var l in listeners) l.OnBestSaved(saved); }
    public void RunEnd(RunEndEvent end) { foreach (var l in listeners) l.OnRunEnd(end); }
}
