using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model.Llama;

/// <summary>Root-mean-square normalisation (Zhang and Sennrich 2019) as Hugging Face's <c>LlamaRMSNorm</c>: statistics in fp32,
/// the result cast back to the input's dtype before the learned scale.</summary>
public sealed class RmsNorm : Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Scalar epsilon;   // kept for the module's life: a temporary Scalar can be freed mid-call (KeptScalars)

    public RmsNorm(long dim, double epsilon, Device? device = null) : base(nameof(RmsNorm))
    {
        this.epsilon = epsilon.ToScalar();
        // The module owns it: out of any dispose scope the model is built in.
        weight = (Parameter)new Parameter(torch.ones(dim, device: device)).DetachFromDisposeScope();
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * torch.rsqrt(x32.square().mean([-1], keepdim: true).add(epsilon, KeptScalars.One));
        return weight * normed.to(x.dtype);
    }
}
