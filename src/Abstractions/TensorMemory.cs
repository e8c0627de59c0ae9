using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>LibTorch's memory of a tensor for the hand-written kernels that read and write it by address (the matrix–vector
/// product, the one-call attention, the loss's row pass).</summary>
static unsafe class TensorMemory
{
    /// <summary>A contiguous CPU tensor's first byte: LibTorch's memory, which does not move while the tensor lives.</summary>
    internal static nint Address(Tensor t)
    {
        fixed (byte* first = t.bytes) return (nint)first;
    }
}
