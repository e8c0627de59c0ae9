namespace PluginGpt.Core.Training.Listeners;

/// <summary>Records each step's loss, step time, tokens/s and MFU (model FLOPs per token × tokens/s over the matmul peak measured
/// in the run's precision) as OpenTelemetry metrics. MFU needs the decoder's token counters (<see cref="IDecoder.TokensForwarded"/>);
/// a decoder that keeps none reports the rest.</summary>
public sealed class TelemetryListener(IDecoder model, double peakGFlops) : ITrainingListener
{
    readonly long parameters = ParameterSet.Count(model.Module.parameters());
    long tokensAtStart, sequencesAtStart;

    public void OnRunStart(TrainingRunInfo run) =>
        (tokensAtStart, sequencesAtStart) = (model.TokensForwarded ?? 0, model.SequencesForwarded ?? 0);

    public void OnStepEnd(StepEndEvent step, TrainingControl control)
    {
        Telemetry.ExamplesPerSecond.Record(step.ExamplesPerSecond);
        bool counted = model.TokensForwarded is not null && model.SequencesForwarded is not null;
        long tokens = (model.TokensForwarded ?? 0) - tokensAtStart;
        long sequences = Math.Max(1, (model.SequencesForwarded ?? 0) - sequencesAtStart);
        double flopsPerToken = model.Config.TrainingFlopsPerToken(parameters, (int)(tokens / sequences));
        Telemetry.RecordStep(step.Loss, step.StepSeconds, step.TokensPerSecond, flopsPerToken, counted ? peakGFlops : 0);
    }
}
