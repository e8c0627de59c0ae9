using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.VeRA;

/// <summary>
/// Wraps a frozen Linear W with VeRA's update (Kopiczko et al. 2024): y = W·x + λ_b ⊙ B·(λ_d ⊙ A·dropout(x)), with A and B the
/// shared frozen projections (sliced to this layer's shape) and only the vectors λ_b [out] and λ_d [r] trained. λ_b starts at
/// zero, so the model starts as the base. Merging folds ΔW = (λ_b ⊙ B)·(λ_d ⊙ A) into W in fp32.
/// </summary>
public sealed class VeraLinear : LinearWrapper
{
#pragma warning disable IDE1006 // PEFT's names
    readonly Parameter vera_lambda_b;
    readonly Parameter vera_lambda_d;
    readonly FastDropoutLayer vera_dropout;
#pragma warning restore IDE1006
    // Owned by the attachment, not by this layer: set after RegisterComponents, which registers every module-valued field.
    readonly VeraProjections shared;

    public VeraLinear(Module<Tensor, Tensor> original, VeraProjections shared, int r, double dropout, double dInitial, bool initWeights)
        : base(nameof(VeraLinear), original)
    {
        long outFeatures = Base.weight!.shape[0];
        var device = Base.weight!.device;
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            vera_lambda_b = Trainable(initWeights ? torch.zeros(outFeatures, device: device) : torch.ones(outFeatures, device: device));
            vera_lambda_d = Trainable(initWeights ? torch.full(r, dInitial, device: device) : torch.randn(r, device: device));
        }
        vera_dropout = new FastDropoutLayer(dropout);
        RegisterComponents();
        this.shared = shared;
    }

    public Parameter LambdaB => vera_lambda_b;
    public Parameter LambdaD => vera_lambda_d;

    static Parameter Trainable(Tensor t) => (Parameter)new Parameter(t, requires_grad: true).DetachFromDisposeScope();

    /// <summary>A's first <c>in</c> columns and B's first <c>out</c> rows.</summary>
    (Tensor A, Tensor B) Slices() =>
        (shared.A[.., ..(int)Base.weight!.shape[1]], shared.B[..(int)Base.weight!.shape[0], ..]);

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        if (Merged) return y;
        var (a, b) = Slices();
        var hidden = Autocast.Linear(vera_dropout.forward(x), a) * Autocast.Compute(vera_lambda_d);
        return y + Autocast.Linear(hidden, b) * Autocast.Compute(vera_lambda_b);
    }

    /// <summary>ΔW = (λ_b ⊙ B)·(λ_d ⊙ A), [out, in], fp32.</summary>
    public Tensor Delta()
    {
        var (a, b) = Slices();
        return (vera_lambda_b.unsqueeze(1) * b).to(ScalarType.Float32).matmul((vera_lambda_d.unsqueeze(1) * a).to(ScalarType.Float32));
    }

    public override bool CanMerge => true;
    protected override void FoldIn() => AddToBase(Delta, +1);
    protected override void FoldOut() => AddToBase(Delta, -1);
}
