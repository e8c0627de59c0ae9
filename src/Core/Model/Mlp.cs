using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>Position-wise feed-forward sub-layer (GPT-2's <c>mlp</c>).</summary>
public sealed class Mlp : ReplaceableChildren
{
#pragma warning disable IDE1006 // GPT-2 state-dict names
    internal Module<Tensor, Tensor> c_fc;
    internal Module<Tensor, Tensor> c_proj;
    readonly Dropout dropout;
#pragma warning restore IDE1006
    readonly string activation;

    public Mlp(GptConfig config, Device? device = null) : base(nameof(Mlp))
    {
        c_fc = Linear(config.ModelDim, config.InnerDim, device: device);
        c_proj = Linear(config.InnerDim, config.ModelDim, device: device);
        dropout = Dropout(config.ResidualDropout);
        activation = config.Activation;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = Activate(activation, Project(c_fc, x));
        return dropout.call(Project(c_proj, h));
    }

    /// <summary>The config's <c>activation_function</c> (and the Llama family's SiLU), so a benchmark times what the model runs.
    /// LibTorch's tanh GELU (<c>gelu_new</c>) costs several times its exact GELU on CPU (bench profile).</summary>
    public static Tensor Activate(string activation, Tensor h) => activation switch
    {
        "gelu_new" => functional.gelu(h, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => functional.gelu(h),
        "silu" => functional.silu(h),
        _ => functional.relu(h),
    };
}
