using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Bench;

/// <summary>The training step the benchmarks time and measure, on random tokens, as a training run takes it.</summary>
public static class BenchStep
{
    /// <summary>[batch, block] random token ids on the model's device (in the caller's dispose scope).</summary>
    public static Tensor Tokens(Decoder model, int batch, int block) =>
        torch.randint(0, model.Config.Vocab, [batch, block], device: model.Device);

    /// <summary>The LM loss on <paramref name="tokens"/> and its backward pass, as training steps take it: each weight cast once
    /// (once a shard where the batch is split across the CPU's cores, <see cref="BatchShards"/>; <paramref name="split"/> false
    /// keeps it whole); then the optimizer's update. Returns when the loss has been read, so a timer around it covers the work.
    /// </summary>
    public static void Run(Decoder model, OptimizerStep optimizer, int step, Tensor tokens, bool split = true)
    {
        if (split) BatchShards.LanguageModelBackward(model, tokens, tokens);
        else BatchShards.LanguageModelBackward(model, tokens, tokens, 1, gradientsZero: true, shards: 1);
        optimizer.Step(step);
    }
}
