using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>LibTorch's memory of a tensor for the hand-written kernels that read and write it by address (the matrix–vector
/// product, the one-call attention, the loss's row pass).</summary>
static unsafe class TensorMemory
{
    /// <summary>A contiguous CPU tensor's first byte: LibTorch's memory, which does not move while the tensor lives (a caller
    /// keeps the tensor reachable, <see cref="GC.KeepAlive"/>, until its kernel is done: TorchSharp's finalizer frees it).</summary>
    internal static nint Address(Tensor t)
    {
        if (t.numel() * t.element_size() <= int.MaxValue)
            fixed (byte* first = t.bytes) return (nint)first;
        // TorchSharp's spans stop at 2 GiB: a larger tensor's address is its first element's.
        using var flat = t.view(-1);
        using var one = flat.narrow(0, 0, 1);
        fixed (byte* first = one.bytes) return (nint)first;
    }
}
