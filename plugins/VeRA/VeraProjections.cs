using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.VeRA;

/// <summary>
/// The frozen random matrices every VeRA layer shares: A [r, max in] and B [max out, r], drawn as PEFT draws them — one CPU
/// generator seeded with <c>projection_prng_key</c>, A first, then B, each uniform in ±√3·√2/√fan_in (Kaiming, fan_in = its
/// second dimension). Each layer uses the top-left block its shape needs. Frozen parameters (not buffers) so that the adapter
/// file can hold them under PEFT's keys.
/// </summary>
public sealed class VeraProjections : Module
{
#pragma warning disable IDE1006 // PEFT's names
    readonly Parameter vera_A;
    readonly Parameter vera_B;
#pragma warning restore IDE1006

    public VeraProjections(int r, long maxIn, long maxOut, long seed, Device device) : base(nameof(VeraProjections))
    {
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            var generator = new torch.Generator((ulong)seed);
            vera_A = Frozen(KaimingUniform(torch.empty(r, maxIn), generator).to(device));
            vera_B = Frozen(KaimingUniform(torch.empty(maxOut, r), generator).to(device));
        }
        RegisterComponents();
    }

    public Parameter A => vera_A;
    public Parameter B => vera_B;

    static Tensor KaimingUniform(Tensor t, torch.Generator generator)
    {
        double bound = Math.Sqrt(3.0) * Math.Sqrt(2.0) / Math.Sqrt(t.shape[1]);
        return t.uniform_(-bound, bound, generator);
    }

    static Parameter Frozen(Tensor t) => (Parameter)new Parameter(t, requires_grad: false).DetachFromDisposeScope();
}
