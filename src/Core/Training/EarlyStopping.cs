namespace PluginGpt.Core.Training;

/// <summary>
/// Which evaluation is the best so far and when to stop (Hugging Face's EarlyStoppingCallback rule): the best weights are the
/// highest score seen; a score counts as an improvement for patience only when it beats the best before it by more than
/// <c>min_delta</c>; <c>patience</c> evaluations in a row without one stop the run.
/// </summary>
public sealed class EarlyStopping(EarlyStoppingSpec? spec)
{
    double best = double.NegativeInfinity;
    int withoutImprovement;

    /// <summary>Whether the last observed score was the best so far (its weights are kept).</summary>
    public bool LastWasBest { get; private set; }

    /// <summary>Whether training should stop now.</summary>
    public bool ShouldStop => spec is not null && withoutImprovement >= spec.Patience;

    /// <summary>Takes one evaluation's score.</summary>
    public void Observe(double score)
    {
        if (score > best + (spec?.MinDelta ?? 0)) withoutImprovement = 0;
        else withoutImprovement++;
        LastWasBest = score > best;
        if (LastWasBest) best = score;
    }
}
