using PluginGpt.Core.Model;

namespace PluginGpt.Core.Training.Listeners;

/// <summary>Records each step's loss, step time, tokens/s and MFU (model FLOPs per token × tokens/s over the matmul peak measured
/// in the run's precision) as OpenTelemetry metrics. MFU needs the decoder's token counters; any other model reports the
/// rest.</summary>
public sealed class TelemetryListener(IDecoder model, double peakGFlops) : ITrainingListener
{
    readonly Decoder? decoder = model as Decoder;
    readonly long parameters = ParameterSet.Count(model.Module.parameters());
    long tokensAtStart, sequencesAtStart;

    public void OnRunStart(TrainingRunInfo run) =>
        (tokensAtStart, sequencesAtStart) = (decoder?.TokensForwarded ?? 0, decoder?.SequencesForwarded ?? 0);

    public void OnStepEnd(StepEndEvent step, TrainingControl control)
    {
        Telemetry.ExamplesPerSecond.Record(step.ExamplesPerSecond);
        long tokens = (decoder?.TokensForwarded ?? 0) - tokensAtStart;
        long sequences = Math.Max(1, (decoder?.SequencesForwarded ?? 0) - sequencesAtStart);
        double flopsPerToken = Bench.Benchmarks.TrainingFlopsPerToken(model.Config, parameters, (int)(tokens / sequences));
        Telemetry.RecordStep(step.Loss, step.StepSeconds, step.TokensPerSecond, flopsPerToken, decoder is null ? 0 : peakGFlops);
    }
}
