using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Keys and values [B, H, T, D] of every layer for the tokens seen so far (generation).</summary>
/// <remarks>Each layer's keys and values live in a buffer with room to spare, doubled when full, and a step writes into it: a
/// concatenation per token copied the whole cache and took fresh pages for it every token (gpt2-small, fp32, AMX Xeon: 10 % of
/// a cached token's time in those copies and in the kernel zeroing pages). No-gradient use only (generation, scoring): a write
/// into the shared buffer would invalidate keys an earlier step saved for backward. Llama's grouped-query head repetition and
/// prefix keys still copy the cache each step.</remarks>
public sealed class KvCache : IDisposable
{
    /// <summary>Positions a buffer first holds past what the first step needs.</summary>
    const long Headroom = 64;

    readonly Tensor?[] keys, values;
    readonly long[] lengths;
    readonly long maxLength;

    /// <param name="layers">the model's blocks.</param>
    /// <param name="maxLength">positions the cache will ever hold (the model's context): a buffer never grows past it, where
    /// doubling alone would hold up to twice the context.</param>
    public KvCache(int layers, long maxLength = long.MaxValue)
    {
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
        lengths = new long[layers];
        this.maxLength = maxLength;
    }

    /// <summary>Positions already cached (virtual prompt tokens included).</summary>
    public long Length => lengths[0];

    /// <summary>Positions the first layer's buffer holds (cached and spare).</summary>
    public long Capacity => keys[0]?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values of one layer and returns the full sequence of them (views of the cache's buffers,
    /// in the caller's dispose scope; detached, as the cache keeps no autograd history).</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long length = lengths[layer], steps = k.shape[2], needed = length + steps;
        if (keys[layer] is { } held && (held.shape[0] != k.shape[0] || held.shape[1] != k.shape[1] || held.shape[3] != k.shape[3]
            || held.dtype != k.dtype || held.device_type != k.device_type || held.device_index != k.device_index))
            throw new InvalidOperationException($"layer {layer}'s cached keys are [{string.Join(", ", held.shape)}] {held.dtype}; "
                + $"this step's are [{string.Join(", ", k.shape)}] {k.dtype}: a cache continues one batch");
        using (torch.no_grad())
        {
            if (keys[layer] is not { } buffer || buffer.shape[2] < needed)
            {
                long capacity = Math.Max(needed, Math.Min(maxLength, Math.Max(needed + Headroom, 2 * (keys[layer]?.shape[2] ?? 0))));
                keys[layer] = Grown(keys[layer], k, length, capacity);
                values[layer] = Grown(values[layer], v, length, capacity);
            }
            using (var keySlot = keys[layer]!.narrow(2, length, steps)) keySlot.copy_(k).Dispose();
            using (var valueSlot = values[layer]!.narrow(2, length, steps)) valueSlot.copy_(v).Dispose();
        }
        lengths[layer] = needed;
        return (keys[layer]!.narrow(2, 0, needed), values[layer]!.narrow(2, 0, needed));
    }

    /// <summary>A buffer of <paramref name="capacity"/> positions shaped like <paramref name="like"/>, holding the first
    /// <paramref name="length"/> positions of <paramref name="old"/> (which it frees).</summary>
    static Tensor Grown(Tensor? old, Tensor like, long length, long capacity)
    {
        // The cache outlives the caller's dispose scope; it owns its buffers.
        var buffer = torch.empty([like.shape[0], like.shape[1], capacity, like.shape[3]], like.dtype, like.device)
            .DetachFromDisposeScope();
        if (old is not null && length > 0)
        {
            using var kept = old.narrow(2, 0, length);
            using var slot = buffer.narrow(2, 0, length);
            slot.copy_(kept).Dispose();
        }
        old?.Dispose();
        return buffer;
    }

    public void Dispose()
    {
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i]?.Dispose(); values[i]?.Dispose();
            keys[i] = values[i] = null;
            lengths[i] = 0;
        }
    }
}
