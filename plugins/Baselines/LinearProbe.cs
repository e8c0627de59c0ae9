using System.Text.Json;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.Baselines;

/// <summary><c>probe</c>: the body is frozen; only the objective's head learns (pair with <c>classifier-head</c>, <c>pooling</c> last or mean).</summary>
public sealed class LinearProbe : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("probe", PluginKind.Method, "1.0.0", "Linear probing: frozen body, only the task head is trained.");

    sealed record Options;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        PluginOptions.Bind<Options>(options, "method.options");
        foreach (var p in model.Module.parameters()) p.requires_grad = false;
        return new Frozen();
    }

    /// <summary>Nothing of its own to train or save: the head belongs to the objective and is saved by it.</summary>
    sealed class Frozen : IAttachedMethod
    {
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => [];
        public void Save(string directory) { }
        public void Load(string directory) { }
        public bool CanMerge => false;
        public void Merge() { }
        public void Unmerge() { }
        public void Dispose() { }
    }
}
