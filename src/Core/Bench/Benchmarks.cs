using System.Diagnostics;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Bench;

/// <summary>
/// Throughput measurements reported as ratios taken in one run (never as absolute pass/fail timings):
/// training FLOP/s against this machine's matmul peak, and generation with against without the KV cache.
/// </summary>
public static class Benchmarks
{
    public sealed record TrainingResult(double TokensPerSecond, double GFlops, double PeakGFlops, double StepSeconds, long Parameters,
        string Precision = "fp32")
    {
        /// <summary>Achieved over peak: the CPU analogue of MFU.</summary>
        public double Utilisation => GFlops / PeakGFlops;
        /// <summary>Memory the training steps added at their peak (<see cref="TrainingMemory"/>); null where not measurable.</summary>
        public long? MemoryBytes { get; init; }
    }
    public sealed record GenerationResult(int Tokens, double CachedTokensPerSecond, double UncachedTokensPerSecond)
    {
        public double Speedup => CachedTokensPerSecond / UncachedTokensPerSecond;
    }

    /// <summary>Median training step (forward, backward, AdamW) of a fresh model at one shape and precision; the peak is that
    /// precision's matmul peak, measured now on the device.</summary>
    public static TrainingResult Training(GptConfig config, int batch, int block, int steps, Device device, PrecisionChoice precision,
        CancellationToken cancel = default, bool gradientCheckpointing = false)
    {
        using var span = Telemetry.Source.StartActivity("bench.train");
        span?.SetTag("precision", precision.Name);
        double peakGFlops = MatmulPeak.UtilisationPeakGFlops(device, precision.MatmulType, 10, MatmulPeak.BenchSeconds);
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config) { GradientCheckpointing = gradientCheckpointing };
        model.to(device);
        model.train();
        var parameters = TrainableTensor.Defaults(model.named_parameters());
        using var optimizer = new OptimizerStep(parameters, new LearningRateSchedule(1e-4, 1e-4, 0, steps + 2), 0.1, gradClip: 0);
        long count = ParameterSet.Count(parameters.Select(p => p.Parameter));
        var times = new List<double>();
        for (int step = 0; step < steps + 2; step++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var x = BenchStep.Tokens(model, batch, block);
            var w = Stopwatch.StartNew();
            BenchStep.Run(model, optimizer, step, x);
            if (step >= 2) times.Add(w.Elapsed.TotalSeconds);   // the first two steps allocate optimizer state
        }
        double median = times.Order().ElementAt(times.Count / 2);
        double tokensPerSecond = batch * block / median;
        double gflops = tokensPerSecond * config.TrainingFlopsPerToken(count, block) / 1e9;
        var tags = new TagList { { "benchmark", "train" }, { "precision", precision.Name } };
        Telemetry.BenchTokensPerSecond.Record(tokensPerSecond, tags);
        Telemetry.BenchMfu.Record(gflops / peakGFlops, tags);
        span?.SetTag("tokens_per_second", tokensPerSecond);
        span?.SetTag("mfu", gflops / peakGFlops);
        return new TrainingResult(tokensPerSecond, gflops, peakGFlops, median, count, precision.Name);
    }

    /// <summary>The memory <see cref="Training"/>'s steps add (gradients, optimizer state, activations), on a fresh model of the
    /// same shape; call it after every timed measurement of the run (<see cref="StepMemory"/> says why).</summary>
    public static long? TrainingMemoryBytes(GptConfig config, int batch, int block, Device device, PrecisionChoice precision,
        bool gradientCheckpointing = false)
    {
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config) { GradientCheckpointing = gradientCheckpointing };
        model.to(device);
        var parameters = TrainableTensor.Defaults(model.named_parameters());
        return StepMemory.Measure(model, parameters,
            () => new OptimizerStep(parameters, new LearningRateSchedule(1e-4, 1e-4, 0, 2), 0.1, gradClip: 0), batch, block);
    }

    /// <summary>Median seconds of a no-grad forward pass over [batch, block] random tokens.</summary>
    public static double ForwardSeconds(Decoder model, int batch, int block, int repeats = 11)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        model.eval();
        var x = torch.randint(0, model.Config.Vocab, [batch, block], device: model.Device);
        for (int i = 0; i < 3; i++) Autocast.Float(model.Logits(x)).sum().item<float>();   // warm-up: allocator and thread pool settle
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var w = Stopwatch.StartNew();
            Autocast.Float(model.Logits(x)).sum().item<float>();
            times.Add(w.Elapsed.TotalSeconds);
        }
        return times.Order().ElementAt(times.Count / 2);
    }

    /// <summary>Greedy generation tokens/s with and without the KV cache; in bf16 the weights are converted once, as
    /// <c>generate</c> does.</summary>
    public static GenerationResult Generation(GptConfig config, int promptTokens, int newTokens, Device device, PrecisionChoice precision,
        CancellationToken cancel = default)
    {
        using var span = Telemetry.Source.StartActivity("bench.generate");
        span?.SetTag("precision", precision.Name);
        torch.manual_seed(0);
        using var model = new Decoder(config);
        model.to(device);
        if (precision.ComputeType is { } compute) model.to(compute);
        using var region = Autocast.Use(precision.ComputeType);
        var prompt = Enumerable.Range(0, promptTokens).Select(i => i % config.Vocab).ToArray();
        double Rate(bool cache)
        {
            cancel.ThrowIfCancellationRequested();
            var options = new GenerationOptions { Greedy = true, MaxNewTokens = newTokens, UseKvCache = cache, Source = "bench" };
            TokenGenerator.Generate(model, prompt, options with { MaxNewTokens = 2 }).Count();   // warm-up
            var w = Stopwatch.StartNew();
            int n = TokenGenerator.Generate(model, prompt, options).Count();
            double rate = n / w.Elapsed.TotalSeconds;
            Telemetry.BenchTokensPerSecond.Record(rate,
                new TagList { { "benchmark", "generate" }, { "precision", precision.Name }, { "kv_cache", cache } });
            return rate;
        }
        return new GenerationResult(newTokens, Rate(true), Rate(false));
    }
}
