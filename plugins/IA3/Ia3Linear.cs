using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.IA3;

/// <summary>
/// A frozen Linear W rescaled by a learned vector l: y = l ⊙ (W·x + b) for attention-like layers (l: [out, 1]), or
/// y = W·(l ⊙ x) + b for feed-forward layers (l: [1, in]), PEFT's shapes. Merging multiplies l into W's rows (and b) or
/// columns in fp32; unmerging divides it out again (exact up to rounding; a vector holding a zero is not merged).
/// </summary>
public sealed class Ia3Linear : LinearWrapper
{
#pragma warning disable IDE1006 // PEFT state-dict name
    readonly Parameter ia3_l;
#pragma warning restore IDE1006

    public bool IsFeedforward { get; }
    public Parameter Vector => ia3_l;

    public Ia3Linear(Module<Tensor, Tensor> original, bool feedforward, bool initOnes) : base(nameof(Ia3Linear), original)
    {
        IsFeedforward = feedforward;
        var w = Base.weight!;
        long[] shape = feedforward ? [1, w.shape[1]] : [w.shape[0], 1];
        ia3_l = new Parameter(initOnes ? torch.ones(shape, w.dtype, w.device) : torch.randn(shape, w.dtype, w.device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (Merged) return BaseForward(x);
        if (IsFeedforward) return BaseForward(x * ia3_l.flatten().to(x.dtype));
        var y = BaseForward(x);
        return y * ia3_l.flatten().to(y.dtype);
    }

    public override bool CanMerge => true;

    protected override void FoldIn()
    {
        using (torch.NewDisposeScope())
            if (ia3_l.abs().min().item<float>() == 0)
                throw new InvalidOperationException(
                    "an (IA)³ vector holds a zero: merging it could not be undone (unmerge divides by it)");
        Rescale(divide: false);
    }

    protected override void FoldOut() => Rescale(divide: true);

    void Rescale(bool divide)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var l = ia3_l.to(ScalarType.Float32);   // [out, 1] scales W's rows; [1, in] its columns: both broadcast against W [out, in]
        Tensor Apply(Tensor t, Tensor by) => divide ? t.to(ScalarType.Float32) / by : t.to(ScalarType.Float32) * by;
        var w = Base.weight!;
        w.copy_(Apply(w, l).to(w.dtype));
        if (!IsFeedforward && Base.bias is { } b) b.copy_(Apply(b, l.flatten()).to(b.dtype));
    }
}
