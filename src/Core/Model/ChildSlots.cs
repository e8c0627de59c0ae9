using System.Reflection;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Module = TorchSharp.torch.nn.Module;

namespace PluginGpt.Core.Model;

/// <summary>
/// The <c>Module&lt;Tensor, Tensor&gt;</c> fields of a module (a block's sub-layers, a sub-layer's Linears): children a method
/// may swap by name for a wrapper (<see cref="IDecoder.ReplaceModule"/>) without the module knowing. The field is the slot and
/// its name the child's name in the tree; the module calls whatever the slot holds.
/// </summary>
internal static class ChildSlots
{
    static FieldInfo[] Fields(Module owner) => owner.GetType()
        .GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
        .Where(f => f.FieldType == typeof(Module<Tensor, Tensor>))
        .ToArray();

    /// <summary>The slots' names, in declaration order (<c>c_attn</c>, <c>c_proj</c>; <c>attn</c>, <c>mlp</c>).</summary>
    public static IReadOnlyList<string> Names(Module owner) => Fields(owner).Select(f => f.Name).ToArray();

    public static Module<Tensor, Tensor> Get(Module owner, string name) => (Module<Tensor, Tensor>)Slot(owner, name).GetValue(owner)!;

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="name"/> was, under the same name, and returns the old
    /// module.</summary>
    public static Module<Tensor, Tensor> Replace(Module owner, string name, Module<Tensor, Tensor> replacement)
    {
        var field = Slot(owner, name);
        var old = (Module<Tensor, Tensor>)field.GetValue(owner)!;
        field.SetValue(owner, replacement);
        owner.register_module(name, null!);   // null unregisters, so the new child takes the old name
        owner.register_module(name, replacement);
        return old;
    }

    static FieldInfo Slot(Module owner, string name) => Fields(owner).FirstOrDefault(f => f.Name == name)
        ?? throw new ArgumentException($"'{name}' is not a replaceable child; valid: {string.Join(", ", Names(owner))}");
}
