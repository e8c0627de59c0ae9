namespace PluginGpt.Core.Training;

/// <summary>Linear warmup to the peak, then a decay to the floor at the last step: cosine (nanoGPT's schedule, the default),
/// linear (BERT's and Hugging Face's <c>get_linear_schedule_with_warmup</c>), or constant (the peak until the end).</summary>
public sealed record LearningRateSchedule(double Peak, double Floor, int WarmupSteps, int TotalSteps,
    string Shape = LearningRateSchedule.Cosine)
{
    public const string Cosine = "cosine", Linear = "linear", Constant = "constant";

    /// <summary>The shapes <c>training.schedule</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Shapes = [Cosine, Linear, Constant];

    public double At(int step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (Shape == Constant) return Peak;
        if (step >= TotalSteps) return Floor;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        double remaining = Shape == Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return Floor + remaining * (Peak - Floor);
    }
}
