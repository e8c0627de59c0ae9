using System.Text.Json;
using PluginGpt.Abstractions;

namespace MyMethod;

/// <summary>
/// <c>plugingpt-method-name</c>, as generated LayerNorm tuning (Qi et al., 2022; PEFT's LN_TUNING): every weight frozen, only
/// the LayerNorms' gains and biases trained. Make it your method: <see cref="Attach"/> is where a method installs its hooks
/// (the SDK's README, shipped in the PluginGpt.Sdk package, lists the hook points and the lifecycle).
/// </summary>
public sealed class MyMethodMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("plugingpt-method-name", PluginKind.Method, "1.0.0",
        "LayerNorm tuning: trains only the LayerNorms' gains and biases.");

    /// <summary><c>method.options</c> of an experiment file (snake_case in JSON; unknown fields are refused).</summary>
    public sealed record Options
    {
        /// <summary>Which LayerNorms to train: <c>ln_1</c> and <c>ln_2</c> of every block, <c>ln_f</c> at the end.</summary>
        public List<string> Norms { get; init; } = ["ln_1", "ln_2", "ln_f"];
    }

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<Options>(options, "method.options");
        foreach (var norm in o.Norms)
            PluginOptions.Require(norm is "ln_1" or "ln_2" or "ln_f", "method.options", "norms", $"'{norm}' is not ln_1, ln_2 or ln_f");
        // The host has frozen the body; it trains exactly what is listed here and saves it as a PEFT-layout adapter file.
        return new TrainedParameters(model.Module.named_parameters()
            .Where(p => p.name.Split('.').Any(part => o.Norms.Contains(part))));
    }
}
