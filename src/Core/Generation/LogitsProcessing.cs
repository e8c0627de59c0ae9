using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Generation;

/// <summary>The per-step transforms of next-token logits [V] used by sampling.</summary>
public static class LogitsProcessing
{
    public static Tensor ApplyRepetitionPenalty(Tensor logits, IReadOnlyCollection<int> seen, double penalty)
    {
        if (penalty == 1.0 || seen.Count == 0) return logits;
        var ids = torch.tensor(seen.Distinct().Select(i => (long)i).ToArray(), device: logits.device);
        var picked = logits.gather(0, ids);
        var penalised = torch.where(picked.gt(0), picked / penalty, picked * penalty);
        return logits.scatter(0, ids, penalised);
    }

    public static Tensor TopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[0]) return logits;
        var (values, _) = logits.topk(k);
        return logits.masked_fill(logits.lt(values[k - 1]), double.NegativeInfinity);
    }

    /// <summary>Nucleus filter: drops the tail once cumulative probability exceeds p, always keeping the top token.</summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        if (p >= 1.0) return logits;
        var (sorted, order) = logits.sort(descending: true);
        var cumulative = sorted.softmax(0).cumsum(0);
        // Remove a token when the mass before it already reaches p (so the token that crosses p stays).
        var remove = (cumulative - sorted.softmax(0)).ge(p);
        var removeInVocabOrder = torch.zeros_like(remove).scatter(0, order, remove);
        return logits.masked_fill(removeInVocabOrder, double.NegativeInfinity);
    }
}
