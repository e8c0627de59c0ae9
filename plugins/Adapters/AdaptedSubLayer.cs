using PluginGpt.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Adapters;

/// <summary>A block's sub-layer (attention or MLP) with a bottleneck adapter on its output, before the residual add: the
/// sub-layer's own module stays inside as <c>base_layer</c>, the adapter is the wrapper's <c>adapter</c>.</summary>
sealed class AdaptedSubLayer : ModuleWrapper
{
    readonly BottleneckAdapter adapter;

    public AdaptedSubLayer(Module<Tensor, Tensor> sublayer, BottleneckAdapter adapter) : base(nameof(AdaptedSubLayer), sublayer)
    {
        this.adapter = adapter;
        RegisterComponents();
    }

    public BottleneckAdapter Adapter => adapter;

    public override Tensor forward(Tensor x) => adapter.call(WrappedForward(x));
}
