using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>
/// A sub-layer (attention or MLP): a standard TorchSharp module [B, T, C] → [B, T, C] whose Linears (hook point 1) can be
/// swapped by name for a wrapper (LoRA) without the module knowing about it (<see cref="ChildSlots"/>).
/// </summary>
public abstract class ReplaceableChildren : Module<Tensor, Tensor>
{
    protected ReplaceableChildren(string name) : base(name) { }

    /// <summary>Names of the children that can be replaced (e.g. <c>c_attn</c>, <c>c_proj</c>).</summary>
    public IReadOnlyList<string> ReplaceableNames => ChildSlots.Names(this);

    public Module<Tensor, Tensor> GetChild(string name) => ChildSlots.Get(this, name);

    /// <summary>A child's forward pass, called as a TorchSharp module (<c>call</c>: its forward hooks fire); inside a bf16
    /// <see cref="Autocast"/> region a plain Linear multiplies with its cached bf16 weight instead (no hooks on that Linear
    /// there), a method's wrapper through its own forward (which routes its matmuls the same way).</summary>
    protected static Tensor Project(Module<Tensor, Tensor> child, Tensor x) =>
        child is TorchSharp.Modules.Linear linear && Autocast.ComputeType is not null ? Autocast.Linear(linear, x) : child.call(x);
}

/// <summary>An attention sub-layer: its block hands it the forward pass's <see cref="AttentionContext"/> (cache, prefix, mask,
/// rotary table) just before calling it, so that it stays a one-tensor module a method can wrap.</summary>
public abstract class AttentionSubLayer : ReplaceableChildren
{
    protected AttentionSubLayer(string name) : base(name) { }

    /// <summary>The context its block handed it on this thread: a batch's shards run the same modules on several threads at once
    /// (<see cref="Training.BatchShards"/>).</summary>
    internal AttentionContext? Context
    {
        get => contexts is { } held && held.TryGetValue(this, out var context) ? context : null;
        set
        {
            contexts ??= new(ReferenceEqualityComparer.Instance);
            if (value is null) contexts.Remove(this);
            else contexts[this] = value;
        }
    }

    [ThreadStatic] static Dictionary<object, AttentionContext>? contexts;

    /// <summary>The context of the call under way; a call outside a block's forward is a bug.</summary>
    internal AttentionContext CurrentContext =>
        Context ?? throw new InvalidOperationException($"{GetType().Name} is called by its block, which sets its context first");
}
