using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Abstractions;

/// <summary>
/// Hook point 1's building block: a module that wraps one frozen <c>Linear</c> of the decoder (weight [out, in], on the
/// model's device) and owns what it adds. <see cref="UnwrapAll"/> puts the Linear back and frees only the wrapper's own
/// tensors; a wrapper still in the model when the model is disposed (an attach that failed halfway) goes with the model,
/// Linear included. Subclasses create their tensors in their constructor, then call <c>RegisterComponents()</c>.
/// </summary>
public abstract class LinearWrapper : Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // PEFT's state-dict name
    readonly Linear base_layer;
#pragma warning restore IDE1006

    /// <param name="name">the module's name (its type, by convention).</param>
    /// <param name="wrapped">what <see cref="IDecoder.ReplaceLinear"/> handed over; anything but a Linear means another method holds the
    /// path.</param>
    protected LinearWrapper(string name, Module<Tensor, Tensor> wrapped) : base(name)
    {
        base_layer = wrapped as Linear
            ?? throw new InvalidOperationException(
                $"{name} wraps Linear layers; this one is a {wrapped.GetType().Name} (another method holds it)");
    }

    /// <summary>The wrapped Linear, frozen, owned by the decoder.</summary>
    public Linear Base => base_layer;

    /// <summary>The wrapped Linear's forward pass, in bf16 inside an <see cref="Autocast"/> region as the decoder's own layers.</summary>
    protected Tensor BaseForward(Tensor x) => Autocast.Linear(base_layer, x);

    /// <summary>Whether the wrapper's effect can be folded into the base weights (<see cref="FoldIn"/> and <see cref="FoldOut"/>
    /// implemented).</summary>
    public virtual bool CanMerge => false;
    /// <summary>True while the effect lives in the base weights: <c>forward</c> should then call <see cref="Base"/> alone.</summary>
    public bool Merged { get; private set; }

    /// <summary>Folds the effect into the base weights (<see cref="FoldIn"/>) unless it is there already.</summary>
    public void Merge()
    {
        if (Merged) return;
        FoldIn();
        Merged = true;
    }

    /// <summary>Takes the effect out of the base weights again (<see cref="FoldOut"/>) unless it is not in them.</summary>
    public void Unmerge()
    {
        if (!Merged) return;
        FoldOut();
        Merged = false;
    }

    /// <summary>W ← W + sign·ΔW, computed in fp32 and stored in W's dtype, temporaries freed: what <see cref="FoldIn"/> and
    /// <see cref="FoldOut"/> of an additive update (LoRA, VeRA, LoHa, …) do. Since SDK 2.6.</summary>
    protected void AddToBase(Func<Tensor> delta, int sign)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var w = Base.weight!;
        w.copy_((w.to(ScalarType.Float32) + sign * delta().to(ScalarType.Float32)).to(w.dtype));
    }

    /// <summary>Adds the wrapper's effect to the base weights (compute in fp32; leave them unchanged if it must refuse).</summary>
    protected virtual void FoldIn() => throw new NotSupportedException($"{GetType().Name} cannot be merged into the base weights");
    /// <summary>Takes the effect out of the base weights again.</summary>
    protected virtual void FoldOut() => throw new NotSupportedException($"{GetType().Name} cannot be merged into the base weights");

    bool released;

    /// <summary>Frees what the wrapper added, and the base Linear too unless <see cref="UnwrapAll"/> gave it back to the model.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && released) register_module(nameof(base_layer), null!);   // null unregisters: the model owns it again
        base.Dispose(disposing);
    }

    /// <summary>Wraps every one of <paramref name="paths"/> with <paramref name="wrap"/> and returns the wrappers by path.
    /// All or nothing: when one wrap fails, the ones already made are undone before the exception goes on.</summary>
    public static IReadOnlyList<(string Path, T Wrapper)> WrapAll<T>(IDecoder model, IEnumerable<string> paths,
        Func<string, Module<Tensor, Tensor>, T> wrap)
        where T : LinearWrapper
    {
        var wrapped = new List<(string, T)>();
        try
        {
            foreach (var path in paths)
            {
                T? wrapper = null;
                model.ReplaceLinear(path, inner => wrapper = wrap(path, inner));
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

    /// <summary>Puts each wrapper's Linear back at its path and disposes the wrapper: the model is the base model again.</summary>
    public static void UnwrapAll<T>(IDecoder model, IEnumerable<(string Path, T Wrapper)> wrapped) where T : LinearWrapper
    {
        foreach (var (path, wrapper) in wrapped)
        {
            model.ReplaceLinear(path, current => ReferenceEquals(current, wrapper) ? wrapper.Base
                : throw new InvalidOperationException(
                    $"{path} no longer holds this wrapper; detach methods in reverse order of attaching"));
            wrapper.released = true;
            wrapper.Dispose();
        }
    }
}
