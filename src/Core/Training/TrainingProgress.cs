namespace PluginGpt.Core.Training;

/// <summary>One report from a training loop: after each step, and with held-out figures after each evaluation.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, double Loss, double LearningRate, double Throughput, double StepSeconds,
    double? ValidationLoss = null, string? Message = null, string ThroughputUnit = "tok/s")
{
    public double? Perplexity => ValidationLoss is { } v ? Math.Exp(v) : null;

    /// <summary>A line of text before or between steps (a phase that starts, something taken over).</summary>
    public static TrainingProgress Note(int totalSteps, string message) => new(0, totalSteps, double.NaN, 0, 0, 0, Message: message);
}
