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
        var picks = continuation.Select((token, t) => (0L, (long)(prompt.Length - 1 + t), (long)token)).ToList();
        var hidden = context.Model.Forward(Ids(context, [.. prompt, .. continuation]));
        return TokenBatch.TokenLogProbabilities(context.Model, hidden, picks).sum().item<float>();
    }

    /// <summary>One sequence of token ids as a [1, T] tensor on the model's device.</summary>
    public static torch.Tensor Ids(ObjectiveContext context, int[] ids) =>
        torch.tensor(ids.Select(i => (long)i).ToArray(), device: context.Model.Device).unsqueeze(0);
}
