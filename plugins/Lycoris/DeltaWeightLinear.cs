using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Lycoris;

/// <summary>
/// What LoHa and LoKr share (PEFT's <c>LycorisLayer</c>): the update is a whole weight ΔW [out, in] built from small factors,
/// applied as y = W·x + ΔW·x, with PEFT's two dropouts — <c>module_dropout</c> skips the update for a whole training step,
/// <c>rank_dropout</c> zeroes rows of ΔW (rescaled by the kept share where the method asks) — and merged as W ± ΔW in fp32.
/// </summary>
public abstract class DeltaWeightLinear(string name, Module<Tensor, Tensor> original, double rankDropout, double moduleDropout,
    bool rescaleRankDropout) : LinearWrapper(name, original)
{
    /// <summary>The trainable factors by PEFT's names (<c>hada_w1_a</c>, <c>lokr_w2</c>, …).</summary>
    public abstract IEnumerable<(string Name, Parameter Parameter)> Named { get; }

    /// <summary>ΔW [out, in] in the factors' dtype, with autograd (the forward pass differentiates through it).</summary>
    protected abstract Tensor Factors();

    /// <summary>ΔW [out, in] in fp32, as merge folds it in.</summary>
    public Tensor Delta() => Factors().to(ScalarType.Float32);

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        if (Merged || (training && moduleDropout > 0 && torch.rand(1).item<float>() <= moduleDropout)) return y;
        var delta = Factors();
        if (training && rankDropout > 0)
        {
            var keep = torch.rand(delta.shape[0], device: delta.device).gt(rankDropout).to(delta.dtype);
            if (rescaleRankDropout) keep /= keep.mean();
            delta = delta * keep.unsqueeze(1);
        }
        return y + Autocast.Linear(x, delta);
    }

    public override bool CanMerge => true;
    protected override void FoldIn() => AddToBase(Delta, +1);
    protected override void FoldOut() => AddToBase(Delta, -1);


    /// <summary>A trainable factor on the base layer's device, initialised as PEFT does:
    /// Kaiming-uniform with a = √5, or zeros.</summary>
    protected Parameter Factor(long rows, long columns, bool zeros)
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.empty(rows, columns, device: Base.weight!.device);
        using (torch.no_grad())
            if (zeros) init.zeros_(t);
            else init.kaiming_uniform_(t, a: Math.Sqrt(5));
        return (Parameter)new Parameter(t, requires_grad: true).DetachFromDisposeScope();
    }
}
