using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// Dropout as PyTorch defines it (each value kept with probability 1 − p and scaled by 1/(1 − p), the scale rounded to the
/// tensor's type as PyTorch's mask is), with the mask drawn fast on CPU. LibTorch 2.10's CPU <c>bernoulli_</c> draws one value at
/// a time on one thread (its MKL path is built only into Meta's own binaries): dropout over GPT-2 small's attention weights
/// (12 × 1024² values) took 164 ms a layer on a 2-core Xeon, where the softmax before it took 9 ms. Here the mask is a
/// counter-based hash of (seed, position) computed in SIMD registers — no library offers that for TorchSharp tensors —, with
/// one seed a call drawn from LibTorch's generator, so <c>manual_seed</c> and gradient checkpointing's replayed generator state
/// reproduce it. Other devices and types keep LibTorch's dropout. Since SDK 2.12.
/// </summary>
public static class FastDropout
{
    /// <summary>Values a block of the mask holds: each block hashes its own key, so positions past 2³² stay distinct.</summary>
    const int BlockSize = 1 << 20;

    /// <summary><paramref name="input"/> with dropout <paramref name="p"/> applied when <paramref name="training"/>; the input
    /// itself otherwise. Differentiable: the gradient passes through the same mask.</summary>
    public static Tensor Apply(Tensor input, double p, bool training)
    {
        if (!training || p == 0) return input;
        if (p is < 0 or >= 1 || !Drawable(input)) return nn.functional.dropout(input, p, training: true);
        using var scope = NewDisposeScope();
        var mask = torch.empty(input.shape, input.dtype, input.device);
        Fill(mask, p, DrawSeed());
        return scope.MoveToOuter(input * mask);
    }

    /// <summary>The tensors a mask is drawn for here: fp32, bf16 or fp16 on CPU.</summary>
    static bool Drawable(Tensor t) =>
        t.device_type == DeviceType.CPU && t.dtype is (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16);

    /// <summary>One 64-bit seed from LibTorch's default generator (the one <c>manual_seed</c> sets).</summary>
    static ulong DrawSeed()
    {
        using var draw = torch.randint(0, long.MaxValue, [1], dtype: ScalarType.Int64);
        return unchecked((ulong)draw.item<long>());
    }

    /// <summary>Writes the mask (the kept value or 0) for <paramref name="seed"/> into the contiguous CPU tensor
    /// <paramref name="mask"/>: the same seed, probability and type give the same mask on any machine.</summary>
    public static void Fill(Tensor mask, double p, ulong seed)
    {
        if (p is < 0 or >= 1 || double.IsNaN(p)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout must be in [0, 1)");
        if (!Drawable(mask) || !mask.is_contiguous())
            throw new ArgumentException($"a dropout mask is a contiguous fp32, bf16 or fp16 CPU tensor, not {mask.dtype} on {mask.device}",
                nameof(mask));
        uint threshold = (uint)Math.Min(uint.MaxValue, Math.Round(p * 4294967296.0));   // keep where hash ≥ threshold
        float scale = 1f / (float)(1 - p);   // as LibTorch divides its fp32 mask by the scalar 1 − p
        long count = mask.numel();
        if (count == 0) return;
        nint start = TensorMemory.Address(mask);
        bool words = mask.dtype == ScalarType.Float32;
        uint wordScale = BitConverter.SingleToUInt32Bits(scale);
        ushort halfWordScale = words ? (ushort)0 : HalfWordBits(scale, mask.dtype);
        // Blocks fill independently, in parallel on LibTorch's threads when there are several (the hash needs no shared state).
        OpenMpTeam.For(checked((int)((count + BlockSize - 1) / BlockSize)), block =>
        {
            long offset = (long)block * BlockSize;
            int length = (int)Math.Min(BlockSize, count - offset);
            var (keyLow, keyHigh) = BlockKey(seed, block);
            unsafe
            {
                if (words) FillWords(new Span<uint>((uint*)start + offset, length), threshold, wordScale, keyLow, keyHigh);
                else FillHalfWords(new Span<ushort>((ushort*)start + offset, length), threshold, halfWordScale, keyLow, keyHigh);
            }
        });
        GC.KeepAlive(mask);   // written by address
    }

    static (uint Low, uint High) BlockKey(ulong seed, long block)
    {
        // SplitMix64's finaliser: neighbouring seeds and blocks get unrelated keys.
        ulong z = unchecked(seed + 0x9E3779B97F4A7C15UL * (ulong)(block + 1));
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return ((uint)z, (uint)(z >> 32));
    }

    /// <summary>The scale's 16-bit pattern: bf16 rounded as LibTorch converts, or fp16.</summary>
    static ushort HalfWordBits(float scale, ScalarType type) =>
        type == ScalarType.Float16 ? BitConverter.HalfToUInt16Bits((Half)scale) : BFloat16Bits.Round(scale);

    /// <summary>Wellons' lowbias32 (a bijective 32-bit hash), applied twice with the block's two key halves.</summary>
    static Vector<uint> Hash(Vector<uint> x, Vector<uint> keyLow, Vector<uint> keyHigh) =>
        LowBias(LowBias(x + keyLow) ^ keyHigh);

    static Vector<uint> LowBias(Vector<uint> x)
    {
        x ^= Vector.ShiftRightLogical(x, 16);
        x *= 0x7FEB352Du;
        x ^= Vector.ShiftRightLogical(x, 15);
        x *= 0x846CA68Bu;
        return x ^ Vector.ShiftRightLogical(x, 16);
    }

    static uint Hash(uint position, uint keyLow, uint keyHigh) =>
        Hash(new Vector<uint>(position), new Vector<uint>(keyLow), new Vector<uint>(keyHigh))[0];

    static void FillWords(Span<uint> words, uint threshold, uint kept, uint keyLow, uint keyHigh)
    {
        var (low, high, limit) = (new Vector<uint>(keyLow), new Vector<uint>(keyHigh), new Vector<uint>(threshold));
        var keep = new Vector<uint>(kept);
        int lanes = Vector<uint>.Count, i = 0;
        var positions = Positions();
        for (; i + lanes <= words.Length; i += lanes)
            (Vector.GreaterThanOrEqual(Hash(positions + new Vector<uint>((uint)i), low, high), limit) & keep).CopyTo(words[i..]);
        for (; i < words.Length; i++) words[i] = Hash((uint)i, keyLow, keyHigh) >= threshold ? kept : 0;
    }

    static void FillHalfWords(Span<ushort> halfWords, uint threshold, ushort kept, uint keyLow, uint keyHigh)
    {
        var (low, high, limit) = (new Vector<uint>(keyLow), new Vector<uint>(keyHigh), new Vector<uint>(threshold));
        var keep = new Vector<ushort>(kept);
        int lanes = Vector<uint>.Count, i = 0;
        var positions = Positions();
        for (; i + 2 * lanes <= halfWords.Length; i += 2 * lanes)
        {
            var first = Vector.GreaterThanOrEqual(Hash(positions + new Vector<uint>((uint)i), low, high), limit);
            var second = Vector.GreaterThanOrEqual(Hash(positions + new Vector<uint>((uint)(i + lanes)), low, high), limit);
            (Vector.Narrow(first, second) & keep).CopyTo(halfWords[i..]);
        }
        for (; i < halfWords.Length; i++) halfWords[i] = Hash((uint)i, keyLow, keyHigh) >= threshold ? kept : (ushort)0;
    }

    static Vector<uint> Positions()
    {
        Span<uint> lanes = stackalloc uint[Vector<uint>.Count];
        for (int i = 0; i < lanes.Length; i++) lanes[i] = (uint)i;
        return new Vector<uint>(lanes);
    }
}

/// <summary><see cref="FastDropout"/> as a layer, in place of TorchSharp's <c>nn.Dropout</c>: drops in <c>train()</c>, passes the
/// input through in <c>eval()</c>.</summary>
public sealed class FastDropoutLayer(double p) : nn.Module<Tensor, Tensor>("Dropout")
{
    /// <summary>The probability of dropping a value.</summary>
    public double P { get; } = p;

    /// <summary>The input with dropout applied in training mode; the input itself in evaluation mode.</summary>
    public override Tensor forward(Tensor input) => FastDropout.Apply(input, P, training);
}
