using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Abstractions;

/// <summary>
/// Hook point 1's building block: a <see cref="ModuleWrapper"/> around one frozen <c>Linear</c> of the decoder (weight [out, in],
/// on the model's device) that owns what it adds and can fold it into the Linear's weights. <see cref="UnwrapAll"/> puts the
/// Linear back and frees only the wrapper's own tensors. Subclasses create their tensors in their constructor, then call
/// <c>RegisterComponents()</c>.
/// </summary>
public abstract class LinearWrapper : ModuleWrapper
{
    /// <param name="name">the module's name (its type, by convention).</param>
    /// <param name="wrapped">what <see cref="IDecoder.ReplaceModule"/> handed over; anything but a Linear means another method holds
    /// the path.</param>
    protected LinearWrapper(string name, Module<Tensor, Tensor> wrapped) : base(name, wrapped as Linear
        ?? throw new InvalidOperationException(
            $"{name} wraps Linear layers; this one is a {wrapped.GetType().Name} (another method holds it)"))
    {
    }

    /// <summary>The wrapped Linear, frozen, owned by the decoder.</summary>
    public Linear Base => (Linear)Wrapped;

    /// <summary>The wrapped Linear's forward pass, in bf16 inside an <see cref="Autocast"/> region as the decoder's own layers.</summary>
    protected Tensor BaseForward(Tensor x) => Autocast.Linear(Base, x);

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

    /// <summary>Wraps every one of <paramref name="paths"/> with <paramref name="wrap"/> and returns the wrappers by path: see
    /// <see cref="ModuleWrapper.WrapAll{T}"/> (kept for plugins built against SDK 2.0–2.8).</summary>
    public static new IReadOnlyList<(string Path, T Wrapper)> WrapAll<T>(IDecoder model, IEnumerable<string> paths,
        Func<string, Module<Tensor, Tensor>, T> wrap)
        where T : LinearWrapper => ModuleWrapper.WrapAll(model, paths, wrap);

    /// <summary>Puts each wrapper's Linear back at its path and disposes the wrapper: see <see cref="ModuleWrapper.UnwrapAll{T}"/>
    /// (kept for plugins built against SDK 2.0–2.8).</summary>
    public static new void UnwrapAll<T>(IDecoder model, IEnumerable<(string Path, T Wrapper)> wrapped) where T : LinearWrapper =>
        ModuleWrapper.UnwrapAll(model, wrapped);
}
