using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Abstractions;

/// <summary>
/// A module that takes the place of one child of the decoder (<see cref="IDecoder.ReplaceModule"/>: a block's attention or
/// MLP, or one of their Linears) and calls it: PEFT's and AdapterHub's way of adapting a model without changing its code. The
/// wrapped module stays in the tree as <c>base_layer</c> (PEFT's name); the wrapper owns only what it adds.
/// <see cref="UnwrapAll{T}"/> puts the wrapped module back and frees only the wrapper's own tensors; a wrapper still in the model
/// when the model is disposed (an attach that failed halfway) goes with the model, wrapped module included. Subclasses create
/// their tensors in their constructor, then call <c>RegisterComponents()</c>. Since SDK 2.9.
/// </summary>
public abstract class ModuleWrapper : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // PEFT's state-dict name
    readonly Module<Tensor, Tensor> base_layer;
#pragma warning restore IDE1006
    bool released;

    /// <param name="name">the module's name (its type, by convention).</param>
    /// <param name="wrapped">what <see cref="IDecoder.ReplaceModule"/> handed over.</param>
    protected ModuleWrapper(string name, Module<Tensor, Tensor> wrapped) : base(name) => base_layer = wrapped;

    /// <summary>The wrapped module (the decoder's own, or another method's wrapper around it), frozen, owned by the decoder.</summary>
    public Module<Tensor, Tensor> Wrapped => base_layer;

    /// <summary>The wrapped module's forward pass, called as a TorchSharp module (its hooks fire).</summary>
    protected Tensor WrappedForward(Tensor x) => base_layer.call(x);

    /// <summary>Frees what the wrapper added, and the wrapped module too unless <see cref="UnwrapAll{T}"/> gave it back to the
    /// model.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && released) register_module(nameof(base_layer), null!);   // null unregisters: the model owns it again
        base.Dispose(disposing);
    }

    /// <summary>Wraps the module at every one of <paramref name="paths"/> with <paramref name="wrap"/> and returns the wrappers by
    /// path. All or nothing: when one wrap fails, the ones already made are undone before the exception goes on.</summary>
    public static IReadOnlyList<(string Path, T Wrapper)> WrapAll<T>(IDecoder model, IEnumerable<string> paths,
        Func<string, Module<Tensor, Tensor>, T> wrap)
        where T : ModuleWrapper
    {
        var wrapped = new List<(string, T)>();
        try
        {
            foreach (var path in paths)
            {
                T? wrapper = null;
                model.ReplaceModule(path, inner => wrapper = wrap(path, inner));
                wrapped.Add((path, wrapper!));
            }
        }
        catch
        {
            UnwrapAll(model, wrapped);
            throw;
        }
        return wrapped;
    }

    /// <summary>Puts each wrapper's module back at its path and disposes the wrapper, in reverse order (a path wrapped twice
    /// unwinds): the model is the base model again.</summary>
    public static void UnwrapAll<T>(IDecoder model, IEnumerable<(string Path, T Wrapper)> wrapped) where T : ModuleWrapper
    {
        foreach (var (path, wrapper) in wrapped.Reverse())
        {
            model.ReplaceModule(path, current => ReferenceEquals(current, wrapper) ? wrapper.base_layer
                : throw new InvalidOperationException(
                    $"{path} no longer holds this wrapper; detach methods in reverse order of attaching"));
            wrapper.released = true;
            wrapper.Dispose();
        }
    }
}
