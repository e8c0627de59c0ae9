using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Core.Bench;

/// <summary>
/// The memory training steps add, measured in a pass of its own after the timed steps: <see cref="TrainingMemory.Start"/> returns
/// glibc's free pages to the kernel (<c>malloc_trim</c>), and the forward passes that follow it ran 3–6× slower for about a
/// dozen (measured 2026-12-05, the <c>small</c> preset: 40 ms before, 135–243 ms after; resetting the peak alone changed nothing; the
/// pages faulted back in, perhaps no longer huge, are the likely cause) — timed steps after it measured the trim, not the model.
/// Benchmarks therefore measure memory after all their timed work.
/// </summary>
public static class StepMemory
{
    /// <summary>Peak bytes that <paramref name="steps"/> training steps over <paramref name="tensors"/> add (gradients, a fresh
    /// optimizer's state, activations kept for backward); null where not measurable. Gradients are freed before and after.
    /// <paramref name="split"/>: the batch split across the CPU's cores where the model allows (<see cref="BenchStep.Run"/>).
    /// </summary>
    public static long? Measure(Decoder model, IReadOnlyList<TrainableTensor> tensors, Func<OptimizerStep> optimizerFactory,
        int batch, int block, int steps = 2, bool split = true)
    {
        FreeGradients(model);
        var memory = TrainingMemory.Start(model.Device);
        using (var optimizer = optimizerFactory())
        {
            model.train();
            using var frozenCasts = Autocast.CacheFrozenCasts();
            for (int step = 0; step < steps; step++)
            {
                using var scope = torch.NewDisposeScope();
                BenchStep.Run(model, optimizer, step, BenchStep.Tokens(model, batch, block), split);
            }
            model.eval();
        }
        long? bytes = memory.PeakGrowthBytes;
        FreeGradients(model);
        return bytes;
    }

    /// <summary>Disposes every parameter's gradient (a measured step's, so the next starts from none).</summary>
    public static void FreeGradients(Decoder model)
    {
        foreach (var p in model.parameters()) { p.grad?.Dispose(); p.grad = null; }
    }
}
