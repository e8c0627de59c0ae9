using System.Text.Json;
using TorchSharp.Modules;

namespace PluginGpt.Abstractions;

/// <summary>How the pretrained body is adapted (full, probe, lora, adapters, prompt, prefix, …).</summary>
public interface IAdaptationMethod : IPlugin
{
    /// <summary>Freezes what the method does not train, installs its hooks, and returns the live attachment.</summary>
    /// <param name="model">the decoder to adapt.</param>
    /// <param name="options">the experiment's <c>method.options</c> object (may be empty); bad values throw <see cref="ArgumentException"/> naming the field.</param>
    IAttachedMethod Attach(IDecoder model, JsonElement options);
}

/// <summary>A method installed on one model.</summary>
public interface IAttachedMethod : IDisposable
{
    /// <summary>The parameters this method trains (the body's, for full fine-tuning).</summary>
    IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; }
    /// <summary>Writes only this method's own weights and config into <paramref name="directory"/>.</summary>
    void Save(string directory);
    void Load(string directory);
    bool CanMerge { get; }
    void Merge();
    void Unmerge();
}
