using System.Reflection;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>
/// Hook point 1: a module whose <c>Module&lt;Tensor, Tensor&gt;</c> children (the Linear layers) can be swapped
/// by name for a wrapper (LoRA) without the module knowing about it.
/// </summary>
public abstract class ReplaceableChildren : nn.Module
{
    protected ReplaceableChildren(string name) : base(name) { }

    FieldInfo[] SlotFields() => GetType()
        .GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        .Where(f => f.FieldType == typeof(Module<Tensor, Tensor>))
        .ToArray();

    /// <summary>Names of the children that can be replaced (e.g. <c>c_attn</c>, <c>c_proj</c>).</summary>
    public IReadOnlyList<string> ReplaceableNames => SlotFields().Select(f => f.Name).ToArray();

    public Module<Tensor, Tensor> GetChild(string name) => (Module<Tensor, Tensor>)Slot(name).GetValue(this)!;

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="name"/> was and returns the old module.</summary>
    public Module<Tensor, Tensor> ReplaceChild(string name, Module<Tensor, Tensor> replacement)
    {
        var field = Slot(name);
        var old = (Module<Tensor, Tensor>)field.GetValue(this)!;
        field.SetValue(this, replacement);
        register_module(name, null!);   // null unregisters, so the new child takes the old name
        register_module(name, replacement);
        return old;
    }

    /// <summary>A child's forward pass, called as a TorchSharp module (<c>call</c>: its forward hooks fire); inside a bf16
    /// <see cref="Autocast"/> region a plain Linear multiplies with its cached bf16 weight instead (no hooks on that Linear
    /// there), a method's wrapper through its own forward (which routes its matmuls the same way).</summary>
    protected static Tensor Project(Module<Tensor, Tensor> child, Tensor x) =>
        child is TorchSharp.Modules.Linear linear && Autocast.ComputeType is not null ? Autocast.Linear(linear, x) : child.call(x);

    FieldInfo Slot(string name) => SlotFields().FirstOrDefault(f => f.Name == name)
        ?? throw new ArgumentException($"'{name}' is not a replaceable child; valid: {string.Join(", ", ReplaceableNames)}");
}
