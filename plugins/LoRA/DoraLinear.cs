using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.LoRA;

/// <summary>
/// DoRA (Liu et al. 2024, Weight-Decomposed Low-Rank Adaptation), as PEFT's <c>use_dora</c>: the adapted weight is split into a
/// direction W + s·B·A, normalised per output feature, and a trainable magnitude m [out] that starts at that norm:
/// y = m/‖W + s·B·A‖ · (W + s·B·A)·x + b. The norm is detached (section 4.3 of the paper; PEFT does the same), so no gradient
/// flows through it. Computed as PEFT computes it: W·x + b + (m/‖·‖ − 1)·W·x + m/‖·‖·s·B·A·x.
/// </summary>
public sealed class DoraLinear : LoraLinear
{
#pragma warning disable IDE1006 // PEFT's name; a field named as registered stays current if TorchSharp's .to() replaces it
    readonly Parameter lora_magnitude_vector;
#pragma warning restore IDE1006
    readonly double dropout;
    Tensor? mergedNorm;   // the norm a merge divided by: unmerge undoes exactly that (PEFT caches it too)

    public DoraLinear(Module<Tensor, Tensor> original, int r, double scaling, double dropout)
        : base(nameof(DoraLinear), original, r, scaling, dropout)
    {
        this.dropout = dropout;
        using (torch.NewDisposeScope())
        using (torch.no_grad())
            lora_magnitude_vector = (Parameter)new Parameter(WeightNorm(), requires_grad: true).DetachFromDisposeScope();
        register_parameter(nameof(lora_magnitude_vector), lora_magnitude_vector);   // saved without PEFT's ".weight"
    }

    /// <summary>m [out]: the magnitude per output feature.</summary>
    public Parameter Magnitude => lora_magnitude_vector;

    /// <summary>‖W + s·B·A‖ over each output feature's row [out], fp32.</summary>
    Tensor WeightNorm()
    {
        var weight = Base.weight!.to(ScalarType.Float32) + Delta();
        return weight.pow(2).sum(1).sqrt();
    }

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        if (Merged) return y;
        Tensor norm;
        using (torch.no_grad()) norm = WeightNorm();   // detached (PEFT's choice): no graph for it at all
        var scale = (lora_magnitude_vector / norm).view(-1);   // [out]
        bool dropping = training && dropout > 0;
        // Without dropout W·x is the base output minus its bias (PEFT reuses it); with dropout the dropped input goes through W.
        var dropped = dropping ? Dropped(x) : x;
        var baseOutput = dropping ? Autocast.Linear(dropped, Base.weight!)
            : Base.bias is { } bias ? y - Autocast.Compute(bias) : y;
        // The fp32 scale must not promote the output: the next layers see the dtype the base layer gives (bf16 in a region).
        return (y + (scale - 1) * baseOutput + scale * LowRank(dropped)).to(y.dtype);
    }

    protected override void FoldIn()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var w = Base.weight!;
        var combined = w.to(ScalarType.Float32) + Delta();
        var norm = combined.pow(2).sum(1).sqrt();
        mergedNorm?.Dispose();
        mergedNorm = norm.DetachFromDisposeScope();
        w.copy_(((lora_magnitude_vector / norm).unsqueeze(1) * combined).to(w.dtype));
    }

    protected override void FoldOut()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var w = Base.weight!;
        var factor = (lora_magnitude_vector / mergedNorm!).unsqueeze(1);
        w.copy_((w.to(ScalarType.Float32) / factor - Delta()).to(w.dtype));
        mergedNorm!.Dispose();   // used once: PEFT pops it from its cache too
        mergedNorm = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) mergedNorm?.Dispose();
        base.Dispose(disposing);
    }
}
