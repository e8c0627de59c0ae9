using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PluginGpt.Core;

/// <summary>PluginGpt's one ActivitySource and one Meter (both named <c>PluginGpt</c>); exporters are the host's choice.</summary>
public static class Telemetry
{
    public const string Name = "PluginGpt";
    public static readonly ActivitySource Source = new(Name, "1.0.0");
    public static readonly Meter Meter = new(Name, "1.0.0");

    public static readonly Histogram<double> Loss =
        Meter.CreateHistogram<double>("plugingpt.train.loss", description: "training loss per optimizer step");
    public static readonly Histogram<double> TokensPerSecond =
        Meter.CreateHistogram<double>("plugingpt.train.tokens_per_second", "{token}/s", "training throughput per optimizer step");
    public static readonly Histogram<double> ExamplesPerSecond =
        Meter.CreateHistogram<double>("plugingpt.train.examples_per_second", "{example}/s", "fine-tuning throughput per optimizer step");
    public static readonly Histogram<double> StepTime =
        Meter.CreateHistogram<double>("plugingpt.train.step_time", "s", "wall time of one optimizer step");
    public static readonly Histogram<double> Mfu =
        Meter.CreateHistogram<double>("plugingpt.train.mfu", description: "achieved FLOP/s over the device's matmul peak (when measured)");
    public static readonly Histogram<double> GenerateTokensPerSecond =
        Meter.CreateHistogram<double>("plugingpt.generate.tokens_per_second", "{token}/s",
            "tokens generated per second, one per generation");
    public static readonly Histogram<double> TokenLatency =
        Meter.CreateHistogram<double>("plugingpt.generate.token_latency", "s", "wall time to choose one generated token");
    public static readonly Histogram<double> BenchTokensPerSecond =
        Meter.CreateHistogram<double>("plugingpt.bench.tokens_per_second", "{token}/s",
            "a benchmark's throughput (tags: benchmark, precision)");
    public static readonly Histogram<double> BenchMfu =
        Meter.CreateHistogram<double>("plugingpt.bench.mfu", "1",
            "a training benchmark's FLOP/s over the matmul peak of its precision");
    public static readonly Histogram<double> EvalExamplesPerSecond =
        Meter.CreateHistogram<double>("plugingpt.eval.examples_per_second", "{example}/s",
            "examples predicted per second in an evaluation");
    public static readonly Histogram<double> EvalScore =
        Meter.CreateHistogram<double>("plugingpt.eval.score", description: "primary metric after each evaluation");
    /// <summary>
    /// Records one training step: loss, step time, tokens/s and MFU, where MFU = tokens/s × FLOPs per token over the device's
    /// measured matmul peak, with nanoGPT's FLOPs per token (<see cref="GptConfig.TrainingFlopsPerToken"/>) for every loop.
    /// </summary>
    public static void RecordStep(double loss, double stepSeconds, double tokensPerSecond, double flopsPerToken, double peakGFlops)
    {
        Loss.Record(loss);
        StepTime.Record(stepSeconds);
        if (tokensPerSecond > 0) TokensPerSecond.Record(tokensPerSecond);
        if (peakGFlops > 0 && tokensPerSecond > 0) Mfu.Record(tokensPerSecond * flopsPerToken / 1e9 / peakGFlops);
    }

    public static readonly ObservableGauge<long> Memory =
        Meter.CreateObservableGauge("plugingpt.process.memory", () => Environment.WorkingSet, "By", "process working set");
}
