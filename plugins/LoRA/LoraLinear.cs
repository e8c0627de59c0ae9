using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.LoRA;

/// <summary>
/// Wraps a frozen Linear W with a low-rank update: y = W·x + (α/r)·B·A·dropout(x). A starts kaiming-uniform (a = √5)
/// and B at zero, so the wrapped model begins exactly as the base. Merging folds (α/r)·B·A into W (in fp32) and back.
/// </summary>
public sealed class LoraLinear : LinearWrapper
{
#pragma warning disable IDE1006 // PEFT state-dict names
    readonly Linear lora_A;
    readonly Linear lora_B;
    readonly Dropout lora_dropout;
#pragma warning restore IDE1006
    readonly double scaling;

    public LoraLinear(Module<Tensor, Tensor> original, int r, double scaling, double dropout) : base(nameof(LoraLinear), original)
    {
        long inFeatures = Base.weight!.shape[1], outFeatures = Base.weight!.shape[0];
        var device = Base.weight!.device;
        lora_A = Linear(inFeatures, r, hasBias: false, device: device);
        lora_B = Linear(r, outFeatures, hasBias: false, device: device);
        using (torch.NewDisposeScope())   // the init calls' returned wrappers
        using (torch.no_grad())
        {
            init.kaiming_uniform_(lora_A.weight!, a: Math.Sqrt(5));
            init.zeros_(lora_B.weight!);
        }
        lora_dropout = Dropout(dropout);
        this.scaling = scaling;
        RegisterComponents();
    }

    public Parameter A => lora_A.weight!;
    public Parameter B => lora_B.weight!;

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        return Merged ? y : y + Autocast.Linear(lora_B, Autocast.Linear(lora_A, lora_dropout.forward(x))) * scaling;
    }

    /// <summary>ΔW = (α/r)·B·A, [out, in], in fp32.</summary>
    public Tensor Delta() => lora_B.weight!.to(ScalarType.Float32).matmul(lora_A.weight!.to(ScalarType.Float32)) * scaling;

    public override bool CanMerge => true;
    protected override void FoldIn() => AddDelta(+1);
    protected override void FoldOut() => AddDelta(-1);

    void AddDelta(int sign)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var w = Base.weight!;
        w.copy_((w.to(ScalarType.Float32) + sign * Delta()).to(w.dtype));
    }
}
