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
}
