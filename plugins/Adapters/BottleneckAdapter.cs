using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Adapters;

/// <summary>
/// x + up(f(down(x))): a bottleneck of width d / reduction with its own skip connection. The up-projection starts at
/// zero, so a freshly attached adapter leaves the model's output exactly as it was.
/// </summary>
public sealed class BottleneckAdapter : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // state-dict names
    readonly Linear down;
    readonly Linear up;
#pragma warning restore IDE1006
    readonly string nonLinearity;

    public BottleneckAdapter(long dim, long bottleneck, string nonLinearity, Device device) : base(nameof(BottleneckAdapter))
    {
        down = Linear(dim, bottleneck, device: device);
        up = Linear(bottleneck, dim, device: device);
        using (torch.NewDisposeScope())   // the init calls' returned wrappers
        using (torch.no_grad())
        {
            init.normal_(down.weight!, 0, 0.02);
            init.zeros_(down.bias!);
            init.zeros_(up.weight!);
            init.zeros_(up.bias!);
        }
        this.nonLinearity = nonLinearity;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var h = Autocast.Linear(down, x);
        h = nonLinearity switch
        {
            "relu" => functional.relu(h),
            "swish" => functional.silu(h),
            _ => functional.gelu(h),
        };
        return x + Autocast.Linear(up, h);
    }
}
