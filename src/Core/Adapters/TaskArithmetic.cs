using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Adapters;

/// <summary>
/// How several task tensors (one per adapter, same shape) become one, as PEFT's <c>merge_utils</c> does it: weighted sum (task
/// arithmetic), TIES (Yadav et al. 2023: keep each tensor's largest-magnitude share, elect a sign per entry by the total, average
/// the weighted entries that agree with it), DARE (Yu et al. 2023: drop entries at random and rescale by the kept share) and
/// magnitude pruning alone. Written here because no .NET library implements these merges. One difference from PEFT: its
/// <c>random_pruning</c> computes DARE's division by the density but discards the result, so PEFT's <c>dare_*</c> output is ours
/// times the density; this one rescales, as the DARE paper does.
/// </summary>
public static class TaskArithmetic
{
    /// <summary>Σ wᵢ·Tᵢ.</summary>
    public static Tensor WeightedSum(IReadOnlyList<Tensor> tensors, IReadOnlyList<double> weights) =>
        tensors.Select((t, i) => t * weights[i]).Aggregate((a, b) => a + b);

    /// <summary>T with all but its ⌊density·n⌋ largest-magnitude entries zeroed.</summary>
    public static Tensor MagnitudePrune(Tensor t, double density)
    {
        long keep = (long)(density * t.numel());
        var mask = torch.zeros(t.numel(), t.dtype, t.device);
        if (keep > 0) mask.index_fill_(0, t.abs().reshape(-1).topk((int)keep).indexes, 1);
        return t * mask.view(t.shape);
    }

    /// <summary>T with each entry kept with probability <paramref name="density"/> and the kept ones divided by it.</summary>
    public static Tensor RandomPrune(Tensor t, double density, torch.Generator generator) =>
        t * torch.bernoulli(torch.full_like(t, density), generator) / density;

    /// <summary>TIES's sign election and disjoint mean over already pruned tensors: per entry, the sign of Σ Tᵢ (≥ 0 counts as
    /// +), then the mean of the weighted entries whose own sign is that one (none: 0).</summary>
    public static Tensor DisjointMerge(IReadOnlyList<Tensor> pruned, IReadOnlyList<double> weights)
    {
        var stacked = torch.stack(pruned, 0);
        // Named dims throughout: a literal 0 would bind to sum's dtype overload.
        var majority = stacked.sum(dim: 0).ge(0).to(stacked.dtype) * 2 - 1;
        var agrees = stacked.sign().eq(majority).to(stacked.dtype);
        long[] perTensor = [-1, .. Enumerable.Repeat(1L, (int)stacked.dim() - 1)];
        var weighted = stacked * torch.tensor(weights.ToArray(), stacked.dtype, stacked.device).view(perTensor);
        return (weighted * agrees).sum(dim: 0) / agrees.sum(dim: 0).clamp_min(1.0);
    }
}
