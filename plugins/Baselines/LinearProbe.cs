using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Baselines;

/// <summary><c>probe</c>: the body stays frozen; only the objective's head learns (pair with <c>classifier-head</c>, <c>pooling</c> last or
/// mean).</summary>
public sealed class LinearProbe : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("probe", PluginKind.Method, "1.0.0",
        "Linear probing: frozen body, only the task head is trained.");

    sealed record Options;

    /// <summary>Hook point: None.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.None;

    /// <summary>Nothing of its own to train or save: the head belongs to the objective and is saved by it.</summary>
    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        PluginOptions.Bind<Options>(options, "method.options");
        return new TrainedParameters([]);
    }
}
