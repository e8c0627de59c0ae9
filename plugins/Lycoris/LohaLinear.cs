using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Lycoris;

/// <summary>
/// LoHa (Hyeon-Woo et al. 2022, FedPara; LyCORIS): ΔW = (W1a·W1b) ⊙ (W2a·W2b) · α/r, a Hadamard product of two rank-r products,
/// so its rank reaches r² for the parameters of two LoRAs. PEFT's initialisation: W1a, W1b and W2a Kaiming-uniform (a = √5),
/// W2b zero, so the update starts at zero.
/// </summary>
public sealed class LohaLinear : DeltaWeightLinear
{
#pragma warning disable IDE1006 // PEFT's names
    readonly Parameter hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b;
#pragma warning restore IDE1006
    readonly double scaling;

    public LohaLinear(Module<Tensor, Tensor> original, LohaOptions o)
        : base(nameof(LohaLinear), original, o.RankDropout, o.ModuleDropout, rescaleRankDropout: true)
    {
        long outFeatures = Base.weight!.shape[0], inFeatures = Base.weight!.shape[1];
        hada_w1_a = Factor(outFeatures, o.R, zeros: false);
        hada_w1_b = Factor(o.R, inFeatures, zeros: false);
        hada_w2_a = Factor(outFeatures, o.R, zeros: false);
        hada_w2_b = Factor(o.R, inFeatures, zeros: o.InitWeights);
        scaling = o.Alpha / o.R;
        RegisterComponents();
    }

    /// <summary>The four factors by PEFT's names.</summary>
    public override IEnumerable<(string Name, Parameter Parameter)> Named =>
        [("hada_w1_a", hada_w1_a), ("hada_w1_b", hada_w1_b), ("hada_w2_a", hada_w2_a), ("hada_w2_b", hada_w2_b)];

    protected override Tensor Factors() => hada_w1_a.matmul(hada_w1_b) * hada_w2_a.matmul(hada_w2_b) * scaling;
}
