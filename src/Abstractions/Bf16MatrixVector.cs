using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// y = x·Wᵀ + b in bf16 for one to <see cref="MaxRows"/> rows of x on CPU, where no gradient is needed: a generated token's
/// every Linear and its LM head. LibTorch 2.10 hands these to oneDNN, which reads a bf16 weight no faster than MKL reads the
/// fp32 one (GPT-2 small's LM head, one row, on a 2-core AMX Xeon: 5.5–8.9 ms in bf16, 4.2–7.9 ms in fp32), so a cached bf16
/// token cost as much as an fp32 one though it has half the bytes to read. No library offers a bf16 matrix–vector product for
/// TorchSharp tensors; this one widens each weight row's bf16 values to fp32 in AVX-512 registers (bf16 is fp32's upper half:
/// a shift), multiplies them into fp32 sums, splits the weight's rows across cores, and rounds the result to bf16 as
/// LibTorch's does. Elsewhere (other devices or types, gradients, more rows, no accelerated 512-bit vectors) LibTorch's Linear runs.
/// </summary>
static unsafe class Bf16MatrixVector
{
    /// <summary>Rows of x taken here; each weight row is read once for all of them.</summary>
    internal const int MaxRows = 4;
    /// <summary>Weight rows a parallel block holds at least: fewer are not worth a hand-off to a helper.</summary>
    const int MinRowsPerBlock = 64;
    const int Lanes = 16;   // fp32 values in a 512-bit register
    /// <summary>Blocks a thread gets: more to even out a late helper, few enough that a block's set-up stays small.</summary>
    const int BlocksPerThread = 2;

    internal static bool Available => Vector512.IsHardwareAccelerated;

    internal static bool Applies(Tensor x, Tensor weight, Tensor? bias)
    {
        // Training asks first (a few native calls a Linear): a gradient rules the kernel out.
        if (torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias?.requires_grad == true)) return false;
        if (!Available || weight.dim() != 2 || x.dim() < 1) return false;
        var (outputs, inputs) = (weight.shape[0], weight.shape[1]);
        if (x.shape[^1] != inputs) return false;
        // TorchSharp hands out a tensor's memory as a span of at most 2³¹ − 1 bytes.
        if (outputs == 0 || outputs * inputs > int.MaxValue / sizeof(ushort)) return false;
        if (!Cpu(x, ScalarType.BFloat16) || !Cpu(weight, ScalarType.BFloat16) || !weight.is_contiguous()) return false;
        if (bias is not null && (!Cpu(bias, ScalarType.BFloat16) || bias.dim() != 1 || bias.shape[0] != outputs
            || !bias.is_contiguous())) return false;
        long rows = inputs == 0 ? 0 : x.numel() / inputs;
        return rows is >= 1 and <= MaxRows;
    }

    static bool Cpu(Tensor t, ScalarType type) => t.device_type == DeviceType.CPU && t.dtype == type;

    /// <summary>The product for tensors <see cref="Applies"/> accepts: shape x.shape[..^1] + [out], bf16. x widens and the sums
    /// round to bf16 here, not in LibTorch ops around the product (those cost 2 ms over a token's ~50 products).</summary>
    internal static Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        int outputs = (int)weight.shape[0], inputs = (int)weight.shape[1];
        int rows = (int)(x.numel() / inputs);
        long[] shape = [.. x.shape[..^1], outputs];
        var output = torch.empty(shape, ScalarType.BFloat16, x.device);
        using var packed = x.is_contiguous() ? null : x.contiguous();
        float[] input = ArrayPool<float>.Shared.Rent(rows * inputs);
        try
        {
            int blocks = Math.Clamp(outputs / MinRowsPerBlock, 1, BlocksPerThread * SpinningWorkers.Shared.Threads);
            int perBlock = (outputs + blocks - 1) / blocks + 3 & ~3;   // whole groups of four rows
            fixed (float* widened = input)
            {
                BFloat16Bits.Widen((ushort*)TensorMemory.Address(packed ?? x), widened, rows * inputs);
                var product = new Product((ushort*)TensorMemory.Address(weight), widened,
                    bias is null ? null : (ushort*)TensorMemory.Address(bias), (ushort*)TensorMemory.Address(output), rows, inputs,
                    outputs, perBlock);
                SpinningWorkers.Shared.For((outputs + perBlock - 1) / perBlock, product.Block);
            }
            // The blocks read the weight's and bias's memory by address: a temporary (a cast made outside any cache) must not be
            // finalised before they are done.
            GC.KeepAlive(weight);
            GC.KeepAlive(bias);
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
        }
    }

    /// <summary>One call's operands (raw addresses: a block looks nothing up) and its blocks of weight rows.</summary>
    sealed class Product(ushort* weight, float* input, ushort* bias, ushort* output, int rows, int inputs, int outputs, int perBlock)
    {
        /// <summary>Weight rows [block · perBlock, …) against every input row; each sum gets its bias and rounds to bf16 once.
        /// Optimised at once (not tiered): a generation's first tokens would otherwise run unoptimised code.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal void Block(int block)
        {
            int first = block * perBlock, end = Math.Min(outputs, first + perBlock);
            float* sums = stackalloc float[4];
            for (int r = first; r < end; r += 4)
            {
                int group = Math.Min(4, end - r);
                ushort* w = weight + (long)r * inputs;
                for (int m = 0; m < rows; m++)
                {
                    float* x = input + (long)m * inputs;
                    if (group == 4) FourDots(w, x, inputs, sums);
                    else for (int k = 0; k < group; k++) sums[k] = Dot(w + (long)k * inputs, x, inputs);
                    ushort* y = output + (long)m * outputs + r;
                    for (int k = 0; k < group; k++)
                        y[k] = BFloat16Bits.Round(bias is null ? sums[k] : sums[k] + BFloat16Bits.Widen(bias[r + k]));
                }
            }
        }
    }

    /// <summary>Four consecutive weight rows against x: x's registers serve four rows, four sums run side by side, and the next
    /// four rows are fetched meanwhile (the hardware prefetcher alone left the loop waiting on memory: 8 against 14 GB/s on one
    /// core).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void FourDots(ushort* w, float* x, int n, float* sums)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* next = (byte*)(w + 4L * n);
        int i = 0;
        for (; i + 2 * Lanes <= n; i += 2 * Lanes)
        {
            // The next group's 4·n values, 256 bytes per step of 32: fetched by the time the loop reaches them.
            Prefetch(next + 8L * i);
            var low = Vector512.Load(x + i);
            var high = Vector512.Load(x + i + Lanes);
            a0 = Accumulate(Vector512.Load(w + i), low, high, a0);
            a1 = Accumulate(Vector512.Load(w + n + i), low, high, a1);
            a2 = Accumulate(Vector512.Load(w + 2 * n + i), low, high, a2);
            a3 = Accumulate(Vector512.Load(w + 3 * n + i), low, high, a3);
        }
        sums[0] = Vector512.Sum(a0) + Tail(w, x, i, n);
        sums[1] = Vector512.Sum(a1) + Tail(w + n, x, i, n);
        sums[2] = Vector512.Sum(a2) + Tail(w + 2 * n, x, i, n);
        sums[3] = Vector512.Sum(a3) + Tail(w + 3 * n, x, i, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Prefetch(byte* p)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
        Sse.Prefetch0(p + 128);
        Sse.Prefetch0(p + 192);
    }

    /// <summary>The dot product of n bf16 values (widened) and n fp32 values, summed in fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float Dot(ushort* w, float* x, int n)
    {
        var a = Vector512<float>.Zero;
        int i = 0;
        for (; i + 2 * Lanes <= n; i += 2 * Lanes)
            a = Accumulate(Vector512.Load(w + i), Vector512.Load(x + i), Vector512.Load(x + i + Lanes), a);
        return Vector512.Sum(a) + Tail(w, x, i, n);
    }

    /// <summary>a + the 32 bf16 weights (widened: bf16 is fp32's upper half) times x's next 32 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Accumulate(Vector512<ushort> w, Vector512<float> xLow, Vector512<float> xHigh, Vector512<float> a)
    {
        var (low, high) = BFloat16Bits.Widen(w);
        return Vector512.FusedMultiplyAdd(high, xHigh, Vector512.FusedMultiplyAdd(low, xLow, a));
    }

    static float Tail(ushort* w, float* x, int from, int n)
    {
        float s = 0;
        for (int i = from; i < n; i++) s += BFloat16Bits.Widen(w[i]) * x[i];
        return s;
    }
}
