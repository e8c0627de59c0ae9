using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections scaled by 1/√(2·n_layer).</summary>
internal static class Initializer
{
    public static void Apply(Decoder model)
    {
        using var scope = torch.NewDisposeScope();   // the init calls' returned wrappers; the parameters themselves are the modules'
        using var _ = torch.no_grad();
        double residualStd = 0.02 / Math.Sqrt(2.0 * model.Config.Layers);
        foreach (var (name, module) in model.named_modules())
        {
            switch (module)
            {
                case Linear linear:
                    nn.init.normal_(linear.weight!, 0, name.EndsWith("c_proj") ? residualStd : 0.02);
                    if (linear.bias is not null) nn.init.zeros_(linear.bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0, 0.02);
                    break;
            }
        }
    }
}
