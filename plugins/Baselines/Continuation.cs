using PluginGpt.Abstractions;
using TorchSharp;

namespace PluginGpt.Plugins.Baselines;

/// <summary>Scoring a continuation after a prompt, as in-context learning does for options and for channel texts.</summary>
static class Continuation
{
    /// <summary>log P(<paramref name="continuation"/> | <paramref name="prompt"/>), summed over the continuation's tokens, in one
    /// pass; only the positions that predict those tokens go through the LM head.</summary>
    public static double LogProbability(ObjectiveContext context, int[] prompt, int[] continuation)
    {
        var ids = prompt.Concat(continuation).Select(i => (long)i).ToArray();
        var picks = continuation.Select((token, t) => (0L, (long)(prompt.Length - 1 + t), (long)token)).ToList();
        var hidden = context.Model.Forward(torch.tensor(ids, device: context.Model.Device).unsqueeze(0));
        return TokenBatch.TokenLogProbabilities(context.Model, hidden, picks).sum().item<float>();
    }
}
