namespace PluginGpt.Abstractions;

/// <summary>bf16 bit patterns as LibTorch's scalar conversion (c10::BFloat16) makes and reads them.</summary>
static class BFloat16Bits
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
}
