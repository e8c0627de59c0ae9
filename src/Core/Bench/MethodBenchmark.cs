using System.Diagnostics;
using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Bench;

/// <summary>What a method costs against the bare model, measured in one run: forward passes and training steps.</summary>
public sealed record MethodBenchResult(double BaseForwardSeconds, double MethodForwardSeconds, double? MergedForwardSeconds,
    double FullStepSeconds, double MethodStepSeconds, long TrainableParameters, long TotalParameters)
{
    /// <summary>Memory training steps added at their peak (<see cref="TrainingMemory"/>): full fine-tuning's and the method's,
    /// from <see cref="MethodBenchmark.Memory"/>; null where not measurable.</summary>
    public long? FullStepMemoryBytes { get; init; }
    /// <inheritdoc cref="FullStepMemoryBytes"/>
    public long? MethodStepMemoryBytes { get; init; }
    /// <summary>Weight casts one training step makes (bf16: each trainable weight once; a frozen body's casts are kept for the
    /// run, as fine-tuning runs keep them); 0 in fp32.</summary>
    public long FullStepWeightCasts { get; init; }
    /// <inheritdoc cref="FullStepWeightCasts"/>
    public long MethodStepWeightCasts { get; init; }
}

/// <summary>
/// Times a method attached to a random decoder: no-grad forward of the base, the method, and the method merged (if it can), and
/// one training step (forward, backward, AdamW) of full fine-tuning against one of the method; <see cref="Memory"/> measures
/// the memory each step adds (gradients, optimizer state, activations kept for backward) apart from the timing. Rounds
/// interleave the variants so warm-up and drift on a shared machine hit all of them alike; each figure is a median. Everything
/// runs in the precision's region (bf16 matmuls with fp32 master weights), as a fine-tuning run in that precision does.
/// </summary>
public static class MethodBenchmark
{
    public static MethodBenchResult Run(IAdaptationMethod method, JsonElement options, GptConfig config, int batch, int block,
        Device device, PrecisionChoice precision, int rounds = 5, CancellationToken cancel = default)
    {
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config);
        model.to(device);
        var (bases, methods, merged, fullSteps, methodSteps) =
            (new List<double>(), new List<double>(), new List<double>(), new List<double>(), new List<double>());
        long trainable = 0, total = 0, fullCasts = 0, methodCasts = 0;
        for (int round = 0; round < rounds; round++)
        {
            cancel.ThrowIfCancellationRequested();
            bases.Add(Benchmarks.ForwardSeconds(model, batch, block, 3));
            foreach (var p in model.parameters()) p.requires_grad = true;
            var full = Step(model, TrainableTensor.Defaults(model.named_parameters()), batch, block);
            fullSteps.Add(full.Seconds);
            fullCasts = full.WeightCasts;
            StepMemory.FreeGradients(model);   // full fine-tuning's gradients: gone

            using var attached = MethodInstaller.Attach(method, model, options);
            trainable = attached.Trainable.Sum(p => p.Parameter.numel());
            total = ParameterSet.Count(model.parameters());
            methods.Add(Benchmarks.ForwardSeconds(model, batch, block, 3));
            var tensors = Trainable(model, attached);
            if (tensors.Count > 0)
            {
                var step = Step(model, tensors, batch, block);
                methodSteps.Add(step.Seconds);
                methodCasts = step.WeightCasts;
            }
            if (attached.CanMerge)
            {
                attached.Merge();
                merged.Add(Benchmarks.ForwardSeconds(model, batch, block, 3));
                attached.Unmerge();
            }
        }
        static double Median(List<double> v) => v.Count == 0 ? double.NaN : v.Order().ElementAt(v.Count / 2);
        return new MethodBenchResult(Median(bases), Median(methods), merged.Count > 0 ? Median(merged) : null, Median(fullSteps),
            Median(methodSteps), trainable, total)
        {
            FullStepWeightCasts = fullCasts,
            MethodStepWeightCasts = methodCasts,
        };
    }

    /// <summary>The memory two training steps add, full fine-tuning's and the method's (null where not measurable), on a fresh
    /// model of the same shape; call it after every timed measurement of the run (<see cref="StepMemory"/> says why).</summary>
    public static (long? Full, long? Method) Memory(IAdaptationMethod method, JsonElement options, GptConfig config, int batch,
        int block, Device device, PrecisionChoice precision)
    {
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config);
        model.to(device);
        var all = TrainableTensor.Defaults(model.named_parameters());
        // Fine-tuning runs keep their batches whole (BatchShards): so do both steps measured here.
        long? full = StepMemory.Measure(model, all, () => NewOptimizer(all, 2), batch, block, split: false);
        using var attached = MethodInstaller.Attach(method, model, options);
        var tensors = Trainable(model, attached);
        return (full, tensors.Count > 0
            ? StepMemory.Measure(model, tensors, () => NewOptimizer(tensors, 2), batch, block, split: false) : null);
    }

    /// <summary>The method's trainable tensors with its settings, the body frozen as a run freezes it.</summary>
    static List<TrainableTensor> Trainable(Decoder model, IAttachedMethod attached)
    {
        var tensors = attached.Trainable
            .Select(p => new TrainableTensor(p.Name, p.Parameter, attached.SettingsFor(p.Name, p.Parameter))).ToList();
        foreach (var p in model.parameters()) p.requires_grad = false;
        foreach (var t in tensors) t.Parameter.requires_grad = true;
        return tensors;
    }

    static OptimizerStep NewOptimizer(IReadOnlyList<TrainableTensor> tensors, int steps) =>
        new(tensors, new LearningRateSchedule(1e-5, 1e-5, 0, steps), 0.01, gradClip: 1.0);

    /// <summary>Median seconds of a training step over <paramref name="tensors"/> (after two warm-up steps that allocate optimizer
    /// state) and the weight casts of the last step.</summary>
    static (double Seconds, long WeightCasts) Step(Decoder model, IReadOnlyList<TrainableTensor> tensors, int batch, int block,
        int steps = 3)
    {
        using var optimizer = NewOptimizer(tensors, steps + 2);
        model.train();
        using var frozenCasts = Autocast.CacheFrozenCasts();   // as fine-tuning runs do
        var times = new List<double>();
        long casts = 0;
        for (int step = 0; step < steps + 2; step++)
        {
            using var scope = torch.NewDisposeScope();
            long castsBefore = Autocast.WeightCasts;
            var x = BenchStep.Tokens(model, batch, block);
            var watch = Stopwatch.StartNew();
            BenchStep.Run(model, optimizer, step, x, split: false);   // fine-tuning runs keep their batches whole
            if (step >= 2) times.Add(watch.Elapsed.TotalSeconds);
            casts = Autocast.WeightCasts - castsBefore;
        }
        model.eval();
        return (times.Order().ElementAt(times.Count / 2), casts);
    }
}
