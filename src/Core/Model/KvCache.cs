using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Keys and values [B, H, T, D] of every layer for the tokens seen so far (generation).</summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] keys, values;

    public KvCache(int layers) { keys = new Tensor?[layers]; values = new Tensor?[layers]; }

    /// <summary>Positions already cached (virtual prompt tokens included).</summary>
    public long Length => keys[0]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values of one layer and returns the full sequence of them.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        var (oldK, oldV) = (keys[layer], values[layer]);
        var allK = oldK is null ? k.alias() : torch.cat([oldK, k], 2);
        var allV = oldV is null ? v.alias() : torch.cat([oldV, v], 2);
        // The cache outlives the caller's dispose scope; it owns its tensors.
        keys[layer] = allK.detach().DetachFromDisposeScope();
        values[layer] = allV.detach().DetachFromDisposeScope();
        oldK?.Dispose(); oldV?.Dispose();
        return (keys[layer]!, values[layer]!);
    }

    public void Dispose()
    {
        for (int i = 0; i < keys.Length; i++) { keys[i]?.Dispose(); values[i]?.Dispose(); keys[i] = values[i] = null; }
    }
}
