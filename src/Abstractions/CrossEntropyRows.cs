using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// The fused LM loss's element-wise work on one chunk of logits, a row at a time: each row's cross-entropy, and its gradient
/// (softmax − one-hot; zero on ignored rows) written over the logits. LibTorch does this in ~10 passes over the chunk (cast to
/// fp32, max, subtract, exp, sum, divide, scatter, mask, cast back), each a trip to memory for a chunk of 16–100 MB; here a row
/// (16 KB at 4,096 words, 200 KB at 50,257) stays in the core's cache through three passes. No library fuses these: LibTorch has
/// no fused CPU cross-entropy backward, and .NET's vector exponential (Vector512.Exp) ran at ~1.3 ns a value here, the one below
/// at ~0.45. Measured (AMX Xeon, 2 vCPUs, one process alternating both ways): the row pass 0.6–0.8 ns a value; the whole loss
/// with its GEMMs at `small`'s 2,048 × 4,096 words 27–52 → 18–32 ms, at GPT-2's 1,024 × 50,257 711–770 → 581–627 ms. Rows are
/// split over LibTorch's own threads (<see cref="OpenMpTeam"/>): one call a chunk (of at least 512 rows), each of milliseconds.
/// </summary>
static unsafe class CrossEntropyRows
{
    /// <summary>Whether this CPU runs the rows here: 512-bit vectors .NET accelerates (AVX-512); otherwise LibTorch's passes.</summary>
    internal static bool Available => Vector512.IsHardwareAccelerated;

    /// <summary>How many chunks this thread has handed to the row pass: tests check the fused loss takes it.</summary>
    internal static long Calls => calls;

    [ThreadStatic] static long calls;

    /// <summary>Whether a chunk of logits [n, V] (contiguous, on the CPU, fp32 or bf16) can be handled here.</summary>
    internal static bool Applies(Tensor logits) =>
        Available && logits.device_type == DeviceType.CPU && logits.dim() == 2 && logits.is_contiguous()
        && logits.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && logits.shape[1] is > 0 and <= int.MaxValue / 4 && logits.numel() * logits.element_size() <= int.MaxValue;

    /// <summary>Σ over the rows of −log softmax(row)[target] (targets [n], negative ones ignored), in fp64; every row of
    /// <paramref name="logits"/> is replaced by its gradient: softmax(row) − one-hot(target), or zeros where the target is
    /// ignored. A target past the vocabulary throws, as LibTorch's gather does (the rows are read by address).</summary>
    internal static double LossAndGradientInPlace(Tensor logits, long[] targets)
    {
        calls++;
        int rows = (int)logits.shape[0], width = (int)logits.shape[1];
        if (targets.Length != rows) throw new ArgumentException($"{targets.Length} targets for {rows} rows of logits");
        foreach (var target in targets)
            if (target >= width) throw new ArgumentOutOfRangeException(nameof(targets), $"target {target} past a {width}-word vocabulary");
        bool bf16 = logits.dtype == ScalarType.BFloat16;
        nint start = TensorMemory.Address(logits);
        var losses = new double[rows];
        // A block of rows per task: enough work to outweigh a task's hand-off, enough blocks to even out the cores.
        int blocks = Math.Min(rows, 4 * Environment.ProcessorCount);
        OpenMpTeam.For(blocks, block =>
        {
            // A bf16 row is widened into fp32 scratch; an fp32 row is worked on in place.
            float[]? scratch = bf16 ? ArrayPool<float>.Shared.Rent(width) : null;
            try
            {
                for (int row = (int)((long)rows * block / blocks); row < (int)((long)rows * (block + 1) / blocks); row++)
                {
                    long target = targets[row];
                    if (bf16)
                        fixed (float* values = scratch)
                            losses[row] = Row((ushort*)start + (long)row * width, values, width, target);
                    else losses[row] = Row(null, (float*)start + (long)row * width, width, target);
                }
            }
            finally { if (scratch is not null) ArrayPool<float>.Shared.Return(scratch); }
        });
        GC.KeepAlive(logits);   // its memory was read by address
        double sum = 0;
        foreach (var loss in losses) sum += loss;
        return sum;
    }

    /// <summary>Where e^x leaves fp32's normal range (e^−87.3 ≈ 1.2e-38): the exponential is 0 below.</summary>
    const float ExpFloor = -87.3f;

    /// <summary>One row: <paramref name="values"/> holds it in fp32 (widened from <paramref name="bf16"/> when given) and ends as
    /// its gradient, which is written back over the bf16 row when there is one. Compiled optimised from its first call: a short
    /// run (a 20-step `bench`) otherwise spends its first seconds in the tier-0 code, whose vector helpers are not inlined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double Row(ushort* bf16, float* values, int width, long target)
    {
        if (target < 0)
        {
            if (bf16 is null) new Span<float>(values, width).Clear();
            else new Span<ushort>(bf16, width).Clear();
            return 0;
        }
        int i = 0, fours = width - width % 64, vectors = width - width % 16;
        // Pass 1: widen (bf16) and the row's maximum, four vectors a step (four independent chains of max). A NaN logit may be
        // passed over here, but it makes the row's sum and loss NaN below.
        var maxima = (Vector512.Create(float.NegativeInfinity), Vector512.Create(float.NegativeInfinity),
            Vector512.Create(float.NegativeInfinity), Vector512.Create(float.NegativeInfinity));
        for (; i < fours; i += 64)
        {
            var (a, b, c, d) = (Load(bf16, values, i), Load(bf16, values, i + 16), Load(bf16, values, i + 32), Load(bf16, values, i + 48));
            maxima = (Vector512.MaxNative(maxima.Item1, a), Vector512.MaxNative(maxima.Item2, b),
                Vector512.MaxNative(maxima.Item3, c), Vector512.MaxNative(maxima.Item4, d));
        }
        var all = Vector512.MaxNative(Vector512.MaxNative(maxima.Item1, maxima.Item2), Vector512.MaxNative(maxima.Item3, maxima.Item4));
        float max = float.NegativeInfinity;
        for (int lane = 0; lane < 16; lane++) max = Math.Max(max, all.GetElement(lane));
        for (; i < width; i++)
        {
            if (bf16 is not null) values[i] = BFloat16Bits.Widen(bf16[i]);
            max = Math.Max(max, values[i]);
        }
        float picked = values[target];
        // Pass 2: e = exp(z − max) in place, and Σe (in fp64: a lane sums thousands of values at GPT-2's vocabulary).
        var shift = Vector512.Create(max);
        var (sumsLow, sumsHigh) = (Vector512<double>.Zero, Vector512<double>.Zero);
        for (i = 0; i < vectors; i += 16)
        {
            var e = Exp(Vector512.Load(values + i) - shift);
            e.Store(values + i);
            var (low, high) = Vector512.Widen(e);
            (sumsLow, sumsHigh) = (sumsLow + low, sumsHigh + high);
        }
        double sum = Vector512.Sum(sumsLow + sumsHigh);
        for (; i < width; i++)
        {
            float z = values[i] - max;
            sum += values[i] = z < ExpFloor ? 0 : MathF.Exp(z);   // as the vector lanes
        }
        // Pass 3: softmax = e / Σe, minus one at the target, written back (rounded to bf16 where the row is bf16).
        float inverse = (float)(1 / sum);
        var scale = Vector512.Create(inverse);
        values[target] -= (float)sum;   // (e − Σe) / Σe = softmax − 1 at the target, after the scaling below
        for (i = 0; i < vectors; i += 16)
        {
            var g = Vector512.Load(values + i) * scale;
            if (bf16 is null) g.Store(values + i);
            else BFloat16Bits.Round(g).Store(bf16 + i);
        }
        for (; i < width; i++)
        {
            float g = values[i] * inverse;
            if (bf16 is null) values[i] = g;
            else bf16[i] = BFloat16Bits.Round(g);
        }
        return Math.Log(sum) + max - picked;
    }

    /// <summary>16 values of the row from <paramref name="values"/> (fp32), or widened from <paramref name="bf16"/> and stored
    /// there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Load(ushort* bf16, float* values, int at)
    {
        if (bf16 is null) return Vector512.Load(values + at);
        var v = BFloat16Bits.Widen16(bf16 + at);
        v.Store(values + at);
        return v;
    }

    /// <summary>e^x for x ≤ 0 (a logit less the row's maximum): x = k·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 in two parts, so k·ln2
    /// is exact), e^r by its Taylor series to r⁷ (relative error below 2⁻²³ there), times 2^k built in the exponent bits;
    /// below <see cref="ExpFloor"/> (2^k would leave fp32's normal range) the result is 0, where LibTorch's is at most 1e-38.
    /// NaN stays NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        var underflow = Vector512.LessThan(x, Vector512.Create(ExpFloor));
        x = Vector512.Max(x, Vector512.Create(ExpFloor));
        // Adding 1.5·2²³ rounds x·log2(e) to an integer, which then sits in the sum's low mantissa bits.
        var magic = Vector512.Create(12582912f);
        var shifted = Vector512.FusedMultiplyAdd(x, Vector512.Create(1.44269504f), magic);
        var k = shifted - magic;
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1f / 5040);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var power = Vector512.ShiftLeft(shifted.AsInt32() - magic.AsInt32() + Vector512.Create(127), 23).AsSingle();
        return Vector512.ConditionalSelect(underflow.AsSingle(), Vector512<float>.Zero, p * power);
    }
}
