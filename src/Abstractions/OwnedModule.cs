using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// A module a plugin owns (an objective's head, a method's adapters or prompt encoder), placed in the decoder's module tree under
/// a free name: the model's <c>train()</c>/<c>eval()</c>, dtype conversions and parameter counts then cover it, and nobody
/// toggles or counts it by hand. <see cref="Dispose"/> takes it out of the tree and disposes it. Since SDK 2.8.
/// </summary>
public sealed class OwnedModule<T> : IDisposable where T : nn.Module
{
    readonly IDecoder model;
    bool disposed;

    internal OwnedModule(IDecoder model, string name, T module) => (this.model, Name, Module) = (model, name, module);

    /// <summary>The child's name in the tree: the name asked for, or <c>NAME_2</c>, <c>NAME_3</c>, … when another holds it (two
    /// tasks' heads in a multi-task run, several named adapters' heads on one base).</summary>
    public string Name { get; }

    /// <summary>The plugin's module, as attached.</summary>
    public T Module { get; }

    /// <summary>The module's parameters, named as inside the module (<c>weight</c>, <c>0.bias</c>): what the plugin saves.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters =>
        [.. Module.named_parameters().Select(p => (p.name, p.parameter))];

    /// <summary>Takes the module out of the tree and disposes it (once).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        model.DetachModule(Name).Dispose();
    }
}

/// <summary>Places plugin-owned modules in the decoder's module tree (see <see cref="OwnedModule{T}"/>). Since SDK 2.8.</summary>
public static class OwnedModule
{
    /// <summary>Attaches <paramref name="module"/> to <paramref name="model"/> as <paramref name="name"/> (no dots), or the first
    /// free <c>NAME_k</c>; on failure the module is disposed.</summary>
    public static OwnedModule<T> Attach<T>(IDecoder model, string name, T module) where T : nn.Module
    {
        var taken = model.Module.named_children().Select(c => c.name).ToHashSet();
        var free = name;
        for (int k = 2; taken.Contains(free); k++) free = $"{name}_{k}";
        try { model.AttachModule(free, module); }
        catch
        {
            module.Dispose();
            throw;
        }
        return new OwnedModule<T>(model, free, module);
    }
}
