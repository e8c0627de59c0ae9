using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model.Llama;

/// <summary>SwiGLU feed-forward (Shazeer 2020): <c>down_proj(silu(gate_proj(x)) · up_proj(x))</c>, no biases.</summary>
public sealed class LlamaMlp : ReplaceableChildren
{
#pragma warning disable IDE1006 // Hugging Face state-dict names
    internal Module<Tensor, Tensor> gate_proj;
    internal Module<Tensor, Tensor> up_proj;
    internal Module<Tensor, Tensor> down_proj;
#pragma warning restore IDE1006

    public LlamaMlp(GptConfig config, Device? device = null) : base(nameof(LlamaMlp))
    {
        gate_proj = Linear(config.ModelDim, config.InnerDim, hasBias: false, device: device);
        up_proj = Linear(config.ModelDim, config.InnerDim, hasBias: false, device: device);
        down_proj = Linear(config.InnerDim, config.ModelDim, hasBias: false, device: device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Project(down_proj, functional.silu(Project(gate_proj, x)) * Project(up_proj, x));
}
