using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>
/// Causal attention weights from raw bf16 scores in one pass a row, and their backward pass: weights = softmax(scale · scores) over
/// the keys each query may see, 0 past them. LibTorch needs a mask added by its batched GEMM (baddbmm), a bf16 softmax and, going
/// back, a softmax backward and two multiplications by the scale; its bf16 softmax alone took 0.48 ms for `small`'s 64 × 128²
/// scores of a layer (2-core Zen 5), and exponentiated the masked half too. Here a row is read and exponentiated only up to the
/// vector holding its last visible key (that vector's hidden lanes masked), sums are fp32, results rounded once to bf16, and rows
/// run on LibTorch's own threads (<see cref="OpenMpTeam"/>). The scores' GEMM still computes every key of a query block.
/// Written by hand: LibTorch has no causal softmax, and its fused attention's bf16 backward is slower still on CPU
/// (<see cref="ScaledAttention"/>).
/// </summary>
internal sealed unsafe class CausalSoftmax : autograd.SingleTensorFunction<CausalSoftmax>
{
    public override string Name => nameof(CausalSoftmax);

    /// <summary>Whether scores of this type and device over this many keys are handled here: bf16 on the CPU, on a CPU with
    /// accelerated 512-bit vectors.</summary>
    internal static bool Serves(ScalarType type, DeviceType device, long keys) =>
        CrossEntropyRows.Available && device == DeviceType.CPU && type == ScalarType.BFloat16 && keys <= MaxKeys;

    /// <summary>Rows up to this many keys (a row's fp32 copy stays on the stack below it).</summary>
    const int MaxKeys = 1 << 14;

    /// <summary>How many calls (forward and backward) this thread has made: tests check attention takes this path.</summary>
    internal static long Calls => calls;

    [ThreadStatic] static long calls;

    /// <summary>softmax(<paramref name="scale"/> · scores[s, i, j]) over keys j &lt; <paramref name="offset"/> + i + 1 (all keys
    /// past the row's end count as hidden), 0 for the hidden keys; differentiable.</summary>
    internal static Tensor Apply(Tensor scores, double scale, long offset) => apply(scores, scale, offset);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (scores, scale, offset) = ((Tensor)vars[0], (double)vars[1], (long)vars[2]);
        if (!Serves(scores.dtype, scores.device_type, scores.shape[^1]) || scores.dim() != 3 || !scores.is_contiguous())
            throw new ArgumentException($"causal softmax takes contiguous [sequences, queries, keys] scores that Serves admits, not "
                + $"{scores.dtype} {string.Join('×', scores.shape)} on {scores.device}");
        using var _ = no_grad();
        var weights = empty_like(scores);
        Rows(scores, weights, null, (float)scale, offset);
        ctx.save_for_backward([weights]);
        ctx.set_materialize_grads(false);   // no gradient for the weights: none for the scores, and no zeros made
        ctx.save_data("scale", scale);
        ctx.save_data("offset", offset);
        return weights;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        if (gradOutput is null || gradOutput.IsInvalid) return [null!, null!, null!];
        var weights = ctx.get_saved_variables()[0];
        var (scale, offset) = ((double)ctx.get_data("scale"), (long)ctx.get_data("offset"));
        using var _ = no_grad();
        var upstream = gradOutput.to(ScalarType.BFloat16).contiguous();
        var grad = empty_like(weights);
        Rows(weights, grad, upstream, (float)scale, offset);
        return [grad, null!, null!];   // none for the scale and the offset
    }

    /// <summary>Runs the forward pass (no <paramref name="upstream"/>) or the backward pass on every row of [sequences, queries,
    /// keys], in blocks of rows on LibTorch's threads.</summary>
    static void Rows(Tensor input, Tensor output, Tensor? upstream, float scale, long offset)
    {
        calls++;
        long queries = input.shape[1], rows = input.shape[0] * queries;
        int keys = (int)input.shape[2];
        if (rows == 0 || keys == 0) return;
        nint from = TensorMemory.Address(input), to = TensorMemory.Address(output);
        nint above = upstream is null ? 0 : TensorMemory.Address(upstream);
        // Enough blocks to even out the threads, each of at least 64 rows (a row is 0.1–1 µs of work).
        int blocks = (int)Math.Clamp(rows / 64, 1, 8 * Environment.ProcessorCount);
        OpenMpTeam.For(blocks, block =>
        {
            float* scratch = stackalloc float[keys + 16];   // a row, padded to whole vectors
            long first = rows * block / blocks, end = rows * (block + 1) / blocks;
            long query = first % queries;
            for (long row = first; row < end; row++, query = query + 1 == queries ? 0 : query + 1)
            {
                int visible = (int)Math.Clamp(offset + query + 1, 0, keys);
                long at = row * keys;
                if (above == 0) Forward((ushort*)from + at, (ushort*)to + at, visible, keys, scale, scratch);
                else Backward((ushort*)from + at, (ushort*)to + at, (ushort*)above + at, visible, keys, scale);
            }
        });
        GC.KeepAlive(input); GC.KeepAlive(output); GC.KeepAlive(upstream);   // read and written by address
    }

    /// <summary>One row's weights: scale·s over the visible keys into <paramref name="scratch"/>, hidden lanes of the last vector
    /// −∞ (whose exponential is 0, so the row needs no scalar exponentials), e = exp(x − max), then e / Σe rounded to bf16; zeros
    /// past the visible keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Forward(ushort* scores, ushort* weights, int visible, int keys, float scale, float* scratch)
    {
        int padded = (visible + 15) & ~15, whole = WholeVectors(visible, keys), i;
        var (scaleVector, hiddenValue) = (Vector512.Create(scale), Vector512.Create(float.NegativeInfinity));
        for (i = 0; i < whole; i += 16)
            Vector512.ConditionalSelect(Hidden(i, visible), hiddenValue, BFloat16Bits.Widen16(scores + i) * scaleVector).Store(scratch + i);
        for (; i < visible; i++) scratch[i] = BFloat16Bits.Widen(scores[i]) * scale;
        for (; i < padded; i++) scratch[i] = float.NegativeInfinity;
        var maxima = hiddenValue;
        for (i = 0; i < padded; i += 16) maxima = Vector512.MaxNative(maxima, Vector512.Load(scratch + i));
        var shift = Vector512.Create(MaxOf(maxima));
        var sums = Vector512<float>.Zero;
        for (i = 0; i < padded; i += 16)
        {
            var e = CrossEntropyRows.Exp(Vector512.Load(scratch + i) - shift);
            e.Store(scratch + i);
            sums += e;
        }
        float inverse = 1 / Vector512.Sum(sums);
        var inverseVector = Vector512.Create(inverse);
        for (i = 0; i < whole; i += 16) BFloat16Bits.Round(Vector512.Load(scratch + i) * inverseVector).Store(weights + i);
        for (; i < visible; i++) weights[i] = BFloat16Bits.Round(scratch[i] * inverse);
        new Span<ushort>(weights + i, keys - i).Clear();
    }

    /// <summary>One row's gradient of the scores: scale · w ⊙ (g − Σ w·g) over the visible keys, rounded to bf16; zeros past
    /// them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Backward(ushort* weights, ushort* grad, ushort* upstream, int visible, int keys, float scale)
    {
        int whole = WholeVectors(visible, keys), i;
        var dots = Vector512<float>.Zero;
        for (i = 0; i < whole; i += 16)
        {
            var g = Vector512.ConditionalSelect(Hidden(i, visible), Vector512<float>.Zero, BFloat16Bits.Widen16(upstream + i));
            dots = Vector512.FusedMultiplyAdd(BFloat16Bits.Widen16(weights + i), g, dots);
        }
        float dot = Vector512.Sum(dots);
        for (; i < visible; i++) dot += BFloat16Bits.Widen(weights[i]) * BFloat16Bits.Widen(upstream[i]);
        var (dotVector, scaleVector) = (Vector512.Create(dot), Vector512.Create(scale));
        for (i = 0; i < whole; i += 16)
        {
            var w = BFloat16Bits.Widen16(weights + i);
            var g = w * (BFloat16Bits.Widen16(upstream + i) - dotVector) * scaleVector;
            BFloat16Bits.Round(Vector512.ConditionalSelect(Hidden(i, visible), Vector512<float>.Zero, g)).Store(grad + i);
        }
        for (; i < visible; i++)
            grad[i] = BFloat16Bits.Round(BFloat16Bits.Widen(weights[i]) * (BFloat16Bits.Widen(upstream[i]) - dot) * scale);
        new Span<ushort>(grad + i, keys - i).Clear();
    }

    /// <summary>How far a row is read and written in whole vectors: up to the visible keys rounded up to 16 (the last vector's
    /// hidden lanes masked) where that stays inside the row, else the whole vectors before the visible end.</summary>
    static int WholeVectors(int visible, int keys)
    {
        int padded = (visible + 15) & ~15;
        return padded <= keys ? padded : visible - visible % 16;
    }

    /// <summary>The lanes of the vector at <paramref name="at"/> past the visible keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Hidden(int at, int visible) =>
        Vector512.GreaterThanOrEqual(Vector512<int>.Indices + Vector512.Create(at), Vector512.Create(visible)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxOf(Vector512<float> lanes)
    {
        var half = Vector256.Max(lanes.GetLower(), lanes.GetUpper());
        var quarter = Vector128.Max(half.GetLower(), half.GetUpper());
        return Math.Max(Math.Max(quarter.GetElement(0), quarter.GetElement(1)), Math.Max(quarter.GetElement(2), quarter.GetElement(3)));
    }
}
