using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Keys and values [B, H, T, D] of every layer for the tokens seen so far (generation).</summary>
/// <remarks>Each layer's keys and values live in a buffer with room to spare, doubled when full, and a step writes into it: a
/// concatenation per token copied the whole cache and took fresh pages for it every token (gpt2-small, fp32, AMX Xeon: 10 % of
/// a cached token's time in those copies and in the kernel zeroing pages). No-gradient use only (generation, scoring): a write
/// into the shared buffer would invalidate keys an earlier step saved for backward. Prefix keys still copy the cache each step, and
/// so does Llama's grouped-query head repetition for steps of several positions (a one-position step groups the query heads
/// instead).</remarks>
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
        var (keyBuffer, valueBuffer) = Reserve(layer, k.shape[0], k.shape[1], k.shape[3], k.dtype, k.device, steps);
        using (torch.no_grad())
        {
            using (var keySlot = keyBuffer.narrow(2, length, steps)) keySlot.copy_(k).Dispose();
            using (var valueSlot = valueBuffer.narrow(2, length, steps)) valueSlot.copy_(v).Dispose();
        }
        Advance(layer, steps);
        return (keyBuffer.narrow(2, 0, needed), valueBuffer.narrow(2, 0, needed));
    }

    /// <summary>Positions one layer holds so far (the layers fill one after another within a step).</summary>
    internal long LengthOf(int layer) => lengths[layer];

    /// <summary>The layer's buffers, [batch, heads, capacity, headDim], with room for <paramref name="steps"/> more positions
    /// after <see cref="LengthOf"/> (grown if needed): the cache's own tensors, for a caller that writes the new positions
    /// itself and then calls <see cref="Advance"/>.</summary>
    internal (Tensor Keys, Tensor Values) Reserve(int layer, long batch, long heads, long headDim, ScalarType type, Device device,
        long steps)
    {
        long length = lengths[layer], needed = length + steps;
        if (keys[layer] is { } held && (held.shape[0] != batch || held.shape[1] != heads || held.shape[3] != headDim
            || held.dtype != type || held.device_type != device.type || held.device_index != device.index))
            throw new InvalidOperationException($"layer {layer}'s cached keys are [{string.Join(", ", held.shape)}] {held.dtype}; "
                + $"this step's are [{batch}, {heads}, {steps}, {headDim}] {type}: a cache continues one batch");
        if (keys[layer] is not { } buffer || buffer.shape[2] < needed)
        {
            long capacity = Math.Max(needed, Math.Min(maxLength, Math.Max(needed + Headroom, 2 * (keys[layer]?.shape[2] ?? 0))));
            using (torch.no_grad())
            {
                keys[layer] = Grown(keys[layer], [batch, heads, capacity, headDim], type, device, length);
                values[layer] = Grown(values[layer], [batch, heads, capacity, headDim], type, device, length);
            }
        }
        return (keys[layer]!, values[layer]!);
    }

    /// <summary>Counts <paramref name="steps"/> positions a <see cref="Reserve"/> caller wrote into the layer's buffers.</summary>
    internal void Advance(int layer, long steps) => lengths[layer] += steps;

    /// <summary>A buffer of <paramref name="shape"/> holding the first <paramref name="length"/> positions of
    /// <paramref name="old"/> (which it frees).</summary>
    static Tensor Grown(Tensor? old, long[] shape, ScalarType type, Device device, long length)
    {
        // The cache outlives the caller's dispose scope; it owns its buffers.
        var buffer = torch.empty(shape, type, device).DetachFromDisposeScope();
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
