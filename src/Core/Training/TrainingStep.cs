using System.Diagnostics;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training.Listeners;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training;

/// <summary>
/// One optimizer step's bookkeeping, the same for fine-tuning and pre-training: every micro-batch runs under its own seed (dropout
/// masks depend on the step, not on history) and dispose scope, with each weight cast once (<see cref="Autocast.CacheCasts"/>;
/// once a shard where a batch is split, <see cref="BatchShards"/>),
/// and its loss checked finite (a non-finite loss poisons the weights and every later step); then the optimizer step, the
/// step's time, throughput from the decoder's token counters (training tokens only), and the step's event to the run's
/// listeners (metrics.jsonl, telemetry with MFU, progress, callbacks). The loops keep only what differs: epochs, accumulation
/// and evaluation against batches, held-out losses and checkpoints.
/// </summary>
public sealed class TrainingStep(IDecoder model, OptimizerStep optimizer, TrainingEvents events)
{
    readonly Stopwatch clock = new();
    readonly Dictionary<string, double> parts = [];
    double lossSum, stepStart;
    int batches;
    long tokens, examples;

    /// <summary>Starts the clock (a run's or an epoch's): step times and throughput are measured from here.</summary>
    public void Restart()
    {
        clock.Restart();
        (tokens, examples) = (0, 0);
    }

    /// <summary>Seconds since <see cref="Restart"/>.</summary>
    public double Elapsed => clock.Elapsed.TotalSeconds;

    /// <summary>Forward and backward of one micro-batch's loss, divided by <paramref name="accumulation"/> (the micro-batches of
    /// a step); returns the batch's own loss. <paramref name="diverged"/> words the error for a non-finite loss;
    /// <paramref name="lossParts"/> reads the parts of the loss just computed (an objective's, e.g. PET's LM term).</summary>
    public double Accumulate(long seed, int batchSize, Func<Tensor> loss, int accumulation, Func<double, string> diverged,
        Func<IReadOnlyDictionary<string, double>?>? lossParts = null) =>
        Record(seed, batchSize, () => BackwardOnce(loss, accumulation), diverged, lossParts);

    /// <summary>The backward pass of <paramref name="loss"/> / <paramref name="accumulation"/> with each weight cast once, in the
    /// caller's dispose scope (an objective's loss parts are read after it); returns the loss (undivided).</summary>
    internal static double BackwardOnce(Func<Tensor> loss, int accumulation)
    {
        Tensor value;
        using (Autocast.CacheCasts())   // closed before the optimizer changes the weights it holds casts of
        {
            value = accumulation == 1 ? loss() : loss() / accumulation;
            value.backward();
        }
        return Autocast.Float(value).item<float>() * accumulation;
    }

    /// <summary><see cref="Accumulate"/> for a decoder's language-model loss over the [B, T] token batch
    /// <paramref name="batch"/> makes (inputs, targets): the batch may be split across the CPU's cores
    /// (<see cref="BatchShards"/>).</summary>
    public double AccumulateLanguageModel(long seed, int batchSize, Decoder decoder, Func<(Tensor Inputs, Tensor Targets)> batch,
        int accumulation, Func<double, string> diverged)
    {
        bool first = batches == 0;
        return Record(seed, batchSize, () =>
        {
            var (x, y) = batch();
            return BatchShards.LanguageModelBackward(decoder, x, y, accumulation, gradientsZero: first);
        }, diverged, null);
    }

    /// <summary>One micro-batch under its seed and dispose scope: <paramref name="backward"/> runs its forward and backward and
    /// returns its loss; then the finite check and the step's tallies.</summary>
    double Record(long seed, int batchSize, Func<double> backward, Func<double, string> diverged,
        Func<IReadOnlyDictionary<string, double>?>? lossParts)
    {
        if (batches == 0) stepStart = clock.Elapsed.TotalSeconds;   // a step's time: its micro-batches and its update
        using var scope = NewDisposeScope();
        manual_seed(seed);
        long tokensBefore = model.TokensForwarded ?? 0;
        double batchLoss = backward();
        if (!double.IsFinite(batchLoss)) throw new TrainingDivergedException(diverged(batchLoss));
        tokens += (model.TokensForwarded ?? 0) - tokensBefore;
        examples += batchSize;
        lossSum += batchLoss;
        batches++;
        foreach (var (name, part) in lossParts?.Invoke() ?? new Dictionary<string, double>())
            parts[name] = parts.GetValueOrDefault(name) + part;
        return batchLoss;
    }

    /// <summary>The optimizer step over what the micro-batches accumulated, as step <paramref name="step"/> (1-based) of
    /// <paramref name="epoch"/>; the step's event goes to the listeners and is returned.</summary>
    public StepEndEvent Step(int step, int epoch)
    {
        double lr;
        using (NewDisposeScope()) lr = optimizer.Step(step - 1);
        double seconds = clock.Elapsed.TotalSeconds, stepSeconds = seconds - stepStart;
        var ended = new StepEndEvent(step, epoch, lossSum / batches, lr, stepSeconds, examples / seconds, tokens / seconds,
            parts.Count == 0 ? null : parts.ToDictionary(p => p.Key, p => p.Value / batches));
        (lossSum, batches) = (0, 0);
        parts.Clear();
        events.StepEnd(ended);
        return ended;
    }
}
