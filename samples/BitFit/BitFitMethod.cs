using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Samples.BitFit;

/// <summary><c>bitfit</c> (Ben Zaken et al., 2021): freeze every weight, train only the bias terms.</summary>
public sealed class BitFitMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("bitfit", PluginKind.Method, "1.0.0",
        "BitFit: trains only the bias terms of the decoder.");

    /// <summary>Options of <c>method.options</c> (snake_case in JSON).</summary>
    public sealed record Options
    {
        /// <summary>Also train LayerNorm biases (<c>ln_1</c>, <c>ln_2</c>, <c>ln_f</c>); false keeps to the Linear layers'
        /// biases.</summary>
        public bool IncludeNorms { get; init; } = true;
    }

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<Options>(options, "method.options");
        static bool IsNorm(string name) => name.Split('.').Any(part => part.StartsWith("ln_"));
        return new TrainedParameters(model.Module.named_parameters()
            .Where(p => p.name.EndsWith(".bias") && (o.IncludeNorms || !IsNorm(p.name))));
    }
}
