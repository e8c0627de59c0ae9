using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Baselines;

/// <summary><c>full</c>: every weight of the body is trained (GPT-1's fine-tuning) and saved with the run.</summary>
public sealed class FullFineTuning : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("full", PluginKind.Method, "1.0.0",
        "Full fine-tuning: trains every parameter of the decoder.");

    sealed record Options;

    /// <summary>Hook point: BodyWeights.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.BodyWeights;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        PluginOptions.Bind<Options>(options, "method.options");
        return new TrainedParameters(model.Module.named_parameters());
    }
}
