using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>
/// A cached bf16 generation step's attention from GPT-2's fused projection, in one call: the new position's key and value
/// written into the cache, softmax(q·kᵀ/√d)·v over every cached position, the heads merged — [1, 1, 3C] in, [1, 1, C] out (bf16
/// values widened, sums in fp32, the output rounded to bf16 once), the heads split across the matrix–vector kernel's helpers,
/// awake for the step's products anyway. LibTorch spends ~17 ops a layer on this (split, head views, cache writes, SDPA, head
/// merge) for little arithmetic (12 heads × 256 keys × 64 at gpt2-small), and no LibTorch op writes a cache and attends in
/// one: a cached bf16 gpt2-small token took 14.9 instead of 15.6 ms (AMX Xeon, 8 alternating runs; README). In fp32 it measured no
/// faster (LibTorch's OpenMP threads run fp32 products and SDPA on both cores; a spinning helper would take one), so fp32 —
/// and gradients, batches, several positions, prefixes, padding, dropout, other devices, CPUs without accelerated 512-bit
/// vectors — keep LibTorch's path.
/// </summary>
static unsafe class OneQueryAttention
{
    const int Lanes = 16;   // fp32 values in a 512-bit register

    [ThreadStatic] static long calls;

    /// <summary>How many attention steps this thread ran here: op-count checks compare it before and after a step.</summary>
    internal static long Calls => calls;

    /// <summary>Whether <paramref name="qkv"/> (the fused projection's output: q, k, v of <paramref name="heads"/> heads of
    /// <paramref name="headDim"/>) can be attended here.</summary>
    internal static bool Applies(Tensor qkv, AttentionContext context, bool dropout, int heads, int headDim)
    {
        if (context.Cache is null || context.KeyPaddingMask is not null || dropout || !Vector512.IsHardwareAccelerated) return false;
        if (torch.is_grad_enabled() && qkv.requires_grad) return false;
        if (qkv.device_type != DeviceType.CPU || qkv.dtype != ScalarType.BFloat16) return false;
        var shape = qkv.shape;
        // The width too: a method's wrapper of c_attn could return another, and the heads are read by address.
        return shape.Length == 3 && shape[0] == 1 && shape[1] == 1 && shape[2] == 3L * heads * headDim && qkv.is_contiguous();
    }

    /// <summary>The attention output [1, 1, heads · headDim] for one new position; the cache holds its key and value after.
    /// </summary>
    internal static Tensor Attend(Tensor qkv, KvCache cache, int layer, int heads, int headDim)
    {
        var (keys, values) = cache.Reserve(layer, 1, heads, headDim, ScalarType.BFloat16, qkv.device, 1);
        var output = torch.empty([1, 1, heads * headDim], ScalarType.BFloat16, qkv.device);
        var step = new Step((ushort*)TensorMemory.Address(qkv), (ushort*)TensorMemory.Address(keys),
            (ushort*)TensorMemory.Address(values), (ushort*)TensorMemory.Address(output), heads, headDim,
            (int)keys.shape[2], (int)cache.LengthOf(layer));
        SpinningWorkers.Shared.For(heads, step.Head);
        GC.KeepAlive(qkv);   // read by address above
        cache.Advance(layer, 1);
        calls++;
        return output;
    }

    /// <summary>One step's operands by address (LibTorch's memory, which does not move while its tensors live) and shape.
    /// </summary>
    sealed class Step(ushort* qkv, ushort* keys, ushort* values, ushort* output, int heads, int headDim, int capacity, int position)
    {
        readonly float scale = 1 / MathF.Sqrt(headDim);

        /// <summary>Head h: its key and value into the cache at <c>position</c>, then its attention over positions 0 … position.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal void Head(int h)
        {
            int dim = heads * headDim, keyCount = position + 1, bytes = headDim * sizeof(ushort);
            long row = (long)h * headDim, first = (long)h * capacity * headDim;   // this head's first cached value
            long slot = first + (long)position * headDim;
            Buffer.MemoryCopy(qkv + dim + row, keys + slot, bytes, bytes);
            Buffer.MemoryCopy(qkv + 2 * dim + row, values + slot, bytes, bytes);

            float[] scratch = ArrayPool<float>.Shared.Rent(2 * headDim + keyCount);
            try
            {
                fixed (float* q = scratch)
                {
                    float* sums = q + headDim, scores = sums + headDim;
                    BFloat16Bits.Widen(qkv + row, q, headDim);
                    for (int j = 0; j < keyCount; j++)
                        scores[j] = scale * Bf16MatrixVector.Dot(keys + first + (long)j * headDim, q, headDim);
                    float total = Softmax(scores, keyCount);
                    new Span<float>(sums, headDim).Clear();
                    for (int j = 0; j < keyCount; j++) AddScaled(sums, scores[j], values + first + (long)j * headDim, headDim);
                    for (int i = 0; i < headDim; i++) output[row + i] = BFloat16Bits.Round(sums[i] / total);
                }
            }
            finally { ArrayPool<float>.Shared.Return(scratch); }
        }
    }

    /// <summary>exp(s − max s) in place; returns their sum.</summary>
    static float Softmax(float* scores, int n)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < n; j++) max = MathF.Max(max, scores[j]);
        var shift = Vector512.Create(max);
        var total = Vector512<float>.Zero;
        int i = 0;
        for (; i + Lanes <= n; i += Lanes)
        {
            var e = Vector512.Exp(Vector512.Load(scores + i) - shift);
            e.Store(scores + i);
            total += e;
        }
        float sum = Vector512.Sum(total);
        for (; i < n; i++) sum += scores[i] = MathF.Exp(scores[i] - max);
        return sum;
    }

    /// <summary>sums += p · v for n bf16 values (widened: bf16 is fp32's upper half).</summary>
    static void AddScaled(float* sums, float p, ushort* v, int n)
    {
        var weight = Vector512.Create(p);
        int i = 0;
        for (; i + 2 * Lanes <= n; i += 2 * Lanes)
        {
            var (low, high) = BFloat16Bits.Widen(Vector512.Load(v + i));
            Vector512.FusedMultiplyAdd(low, weight, Vector512.Load(sums + i)).Store(sums + i);
            Vector512.FusedMultiplyAdd(high, weight, Vector512.Load(sums + i + Lanes)).Store(sums + i + Lanes);
        }
        for (; i < n; i++) sums[i] += p * BFloat16Bits.Widen(v[i]);
    }
}
