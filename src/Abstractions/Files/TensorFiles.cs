using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>Loads named tensors from a safetensors file into existing parameters, checking every name and shape.</summary>
public static class TensorFiles
{
    /// <summary>Copies each tensor of <paramref name="path"/> into the parameter of the same name (converted to its dtype and
    /// device). Every name and shape is checked first: a bad file throws <see cref="CheckpointException"/> and changes
    /// nothing. Keys the file has beyond <paramref name="targets"/> are ignored.</summary>
    public static void CopyInto(string path, IEnumerable<(string Name, Parameter Parameter)> targets)
    {
        var file = Safetensors.Load(path);
        try
        {
            // Every name and shape is checked before the first copy: a bad file leaves the parameters as they were.
            var list = targets.ToList();
            foreach (var (name, p) in list)
            {
                if (!file.TryGetValue(name, out var t)) throw new CheckpointException($"{path}: missing key '{name}'");
                if (!t.shape.SequenceEqual(p.shape))
                    throw new CheckpointException($"{path}: key '{name}' has shape [{string.Join(", ", t.shape)}], " +
                        $"expected [{string.Join(", ", p.shape)}]");
            }
            using var scope = torch.NewDisposeScope();   // conversions and copy_'s returned wrappers
            using var _ = torch.no_grad();
            foreach (var (name, p) in list) p.copy_(file[name].to(p.dtype, p.device));
        }
        finally { foreach (var t in file.Values) t.Dispose(); }
    }

    /// <summary>Writes the parameters under their names as one safetensors file (atomically, in their own dtype).</summary>
    public static void Save(string path, IEnumerable<(string Name, Parameter Parameter)> tensors) =>
        Safetensors.Save(path, tensors.Select(p => KeyValuePair.Create(p.Name, (Tensor)p.Parameter)));
}
