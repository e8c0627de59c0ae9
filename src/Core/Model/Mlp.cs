using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>Position-wise feed-forward sub-layer (GPT-2's <c>mlp</c>).</summary>
public sealed class Mlp : ReplaceableChildren
{
#pragma warning disable IDE1006 // GPT-2 state-dict names
    internal Module<Tensor, Tensor> c_fc;
    internal Module<Tensor, Tensor> c_proj;
    readonly FastDropoutLayer dropout;
#pragma warning restore IDE1006
    readonly string activation;

    public Mlp(GptConfig config, Device? device = null) : base(nameof(Mlp))
    {
        c_fc = Linear(config.ModelDim, config.InnerDim, device: device);
        c_proj = Linear(config.InnerDim, config.ModelDim, device: device);
        dropout = new FastDropoutLayer(config.ResidualDropout);
        activation = config.Activation;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = Activate(activation, Project(c_fc, x));
        return dropout.call(Project(c_proj, h));
    }

    /// <summary>The config's <c>activation_function</c> (or SiLU, the Llama family's gate), shared with <c>bench profile</c> so it
    /// times what the model runs. LibTorch's tanh GELU (<c>gelu_new</c>) took 4.3× its exact GELU forward and 1.8× backward on
    /// an AMX Xeon (README, Performance); bf16 activations take <see cref="Bf16Gelu"/> for it where the CPU allows.</summary>
    public static Tensor Activate(string activation, Tensor h) => activation switch
    {
        "gelu_new" => Bf16Gelu.Serves(h) ? Bf16Gelu.Apply(h) : functional.gelu(h, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => functional.gelu(h),
        "silu" => functional.silu(h),
        "relu" => functional.relu(h),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "GptConfig.Validate admits no other"),
    };
}
