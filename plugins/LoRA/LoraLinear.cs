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
public class LoraLinear : LinearWrapper
{
#pragma warning disable IDE1006 // PEFT state-dict names
    readonly Linear lora_A;
    readonly Linear lora_B;
    readonly FastDropoutLayer lora_dropout;
#pragma warning restore IDE1006
    readonly double scaling;

    public LoraLinear(Module<Tensor, Tensor> original, int r, double scaling, double dropout)
        : this(nameof(LoraLinear), original, r, scaling, dropout)
    {
    }

    /// <summary>For subclasses (DoRA), which register what they add with <c>register_parameter</c>.</summary>
    protected LoraLinear(string name, Module<Tensor, Tensor> original, int r, double scaling, double dropout) : base(name, original)
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
        lora_dropout = new FastDropoutLayer(dropout);
        this.scaling = scaling;
        RegisterComponents();
    }

    public Parameter A => lora_A.weight!;
    public Parameter B => lora_B.weight!;
    /// <summary>s·B·A·dropout(x), in the region's precision.</summary>
    protected Tensor Update(Tensor x) => LowRank(Dropped(x));

    /// <summary>The adapter's dropout on its input.</summary>
    protected Tensor Dropped(Tensor x) => lora_dropout.forward(x);

    /// <summary>s·B·A·x for an input already dropped; s scales the rank-r intermediate, a pass over r columns instead of the
    /// output's.</summary>
    protected Tensor LowRank(Tensor dropped) => Autocast.Linear(lora_B, Autocast.Linear(lora_A, dropped) * scaling);

    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        return Merged ? y : y + Update(x);
    }

    /// <summary>ΔW = (α/r)·B·A, [out, in], in fp32.</summary>
    public Tensor Delta() => lora_B.weight!.to(ScalarType.Float32).matmul(lora_A.weight!.to(ScalarType.Float32)) * scaling;

    public override bool CanMerge => true;
    protected override void FoldIn() => AddToBase(Delta, +1);
    protected override void FoldOut() => AddToBase(Delta, -1);
}
