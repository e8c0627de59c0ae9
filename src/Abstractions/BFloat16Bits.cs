using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PluginGpt.Abstractions;

/// <summary>bf16 bit patterns as LibTorch's scalar conversion (c10::BFloat16) makes and reads them.</summary>
static unsafe class BFloat16Bits
{
    /// <summary>fp32 → bf16 by round-to-nearest-even, NaN as 0x7FC0: c10's conversion, bit for bit.</summary>
    internal static ushort Round(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>bf16 → fp32, exactly: bf16 is fp32's upper half.</summary>
    internal static float Widen(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary><paramref name="count"/> bf16 values widened to fp32, exactly.</summary>
    internal static void Widen(ushort* from, float* to, int count)
    {
        for (int i = 0; i < count; i++) to[i] = Widen(from[i]);
    }

    /// <summary>32 bf16 values widened to fp32, exactly: the first 16 and the last 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<float> Low, Vector512<float> High) Widen(Vector512<ushort> bits) =>
        (Vector512.ShiftLeft(Vector512.WidenLower(bits), 16).AsSingle(), Vector512.ShiftLeft(Vector512.WidenUpper(bits), 16).AsSingle());

    /// <summary>16 bf16 values widened to fp32, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Widen16(ushort* bits) =>
        Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(bits).ToVector512Unsafe()), 16).AsSingle();

    /// <summary>16 fp32 values rounded to bf16 as <see cref="Round(float)"/> rounds one (nearest, ties to even); a quiet NaN stays
    /// a quiet NaN (its payload may differ from c10's 0x7FC0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<ushort> Round(Vector512<float> values)
    {
        var bits = values.AsUInt32();
        var odd = Vector512.ShiftRightLogical(bits, 16) & Vector512.Create(1u);
        var rounded = Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + odd, 16);
        return Vector512.Narrow(rounded, rounded).GetLower();
    }
}
