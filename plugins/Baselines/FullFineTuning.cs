using System.Text.Json;
using PluginGpt.Abstractions;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.Baselines;

/// <summary><c>full</c>: every weight of the body is trained (GPT-1's fine-tuning).</summary>
public sealed class FullFineTuning : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("full", PluginKind.Method, "1.0.0", "Full fine-tuning: trains every parameter of the decoder.");

    sealed record Options;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        PluginOptions.Bind<Options>(options, "method.options");
        foreach (var p in model.Module.parameters()) p.requires_grad = true;
        return new Attached(model);
    }

    sealed class Attached(IDecoder model) : IAttachedMethod
    {
        const string File = "body.safetensors";
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => ParameterSet.Distinct(model.Module.named_parameters());
        public void Save(string directory) => TensorFiles.Save(Path.Combine(directory, File), Trainable);
        public void Load(string directory) => TensorFiles.CopyInto(Path.Combine(directory, File), Trainable);
        public bool CanMerge => false;
        public void Merge() { }
        public void Unmerge() { }
        public void Dispose() { }
    }
}
