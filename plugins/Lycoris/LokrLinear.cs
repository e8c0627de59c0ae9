using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Lycoris;

/// <summary>
/// LoKr (Edalati et al. 2022; LyCORIS): ΔW = (W1 ⊗ W2) · α/r, a Kronecker product whose factor shapes split [out, in] as
/// PEFT's <see cref="Factorization"/> does: W1 [out_l, in_m], W2 [out_k, in_n]. Each factor is a full matrix, or a rank-r product
/// where r is below half its larger side (W2 always may; W1 only with <c>decompose_both</c>). PEFT's initialisation: W1 (or
/// W1a) zero, the rest Kaiming-uniform (a = √5), so the update starts at zero.
/// </summary>
public sealed class LokrLinear : DeltaWeightLinear
{
    readonly double scaling;

    public LokrLinear(Module<Tensor, Tensor> original, LokrOptions o)
        : base(nameof(LokrLinear), original, o.RankDropout, o.ModuleDropout, o.RankDropoutScale)
    {
        // By PEFT's names, registered by name below and read back from the module (a dictionary kept here would go stale when
        // .to() replaces the parameters; typed fields would be registered a second time under their field names).
        var factors = new Dictionary<string, Parameter>();
        long outFeatures = Base.weight!.shape[0], inFeatures = Base.weight!.shape[1];
        var (inM, inN) = Factorization(inFeatures, o.DecomposeFactor);
        var (outL, outK) = Factorization(outFeatures, o.DecomposeFactor);
        bool fullW1 = !(o.DecomposeBoth && o.R < Math.Max(outL, inM) / 2.0);
        bool fullW2 = !(o.R < Math.Max(outK, inN) / 2.0);
        if (fullW1) factors["lokr_w1"] = Factor(outL, inM, zeros: o.InitWeights);
        else
        {
            factors["lokr_w1_a"] = Factor(outL, o.R, zeros: o.InitWeights);
            factors["lokr_w1_b"] = Factor(o.R, inM, zeros: false);
        }
        if (fullW2) factors["lokr_w2"] = Factor(outK, inN, zeros: false);
        else
        {
            factors["lokr_w2_a"] = Factor(outK, o.R, zeros: false);
            factors["lokr_w2_b"] = Factor(o.R, inN, zeros: false);
        }
        scaling = o.Alpha / o.R;
        RegisterComponents();
        foreach (var (name, p) in factors) register_parameter(name, p);
    }

    /// <summary>The factors this layer has, by PEFT's names.</summary>
    public override IEnumerable<(string Name, Parameter Parameter)> Named => named_parameters(recurse: false);

    protected override Tensor Factors() => torch.kron(Side("lokr_w1"), Side("lokr_w2")) * scaling;

    /// <summary>A Kronecker factor: the full matrix, or its two rank-r halves multiplied.</summary>
    Tensor Side(string name) =>
        get_parameter(name) is { } full ? full : get_parameter(name + "_a")!.matmul(get_parameter(name + "_b")!);

    /// <summary>
    /// PEFT's (and LyCORIS's) split of a dimension into m ≤ n with m·n = dimension: <paramref name="factor"/> itself when it divides
    /// the dimension; otherwise the divisor pair closest to the square root, grown from (1, dimension) while the next divisor m
    /// stays ≤ <paramref name="factor"/> (−1: no limit). The sum bound is the first pair's (PEFT never updates it).
    /// </summary>
    public static (long M, long N) Factorization(long dimension, long factor = -1)
    {
        if (factor > 0 && dimension % factor == 0) return (factor, dimension / factor);
        if (factor == -1) factor = dimension;
        long m = 1, n = dimension, length = m + n;
        while (m < n)
        {
            long newM = m + 1;
            while (dimension % newM != 0) newM++;
            long newN = dimension / newM;
            if (newM + newN > length || newM > factor) break;
            (m, n) = (newM, newN);
        }
        return m > n ? (n, m) : (m, n);
    }
}
