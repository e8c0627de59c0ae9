using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// Mixed precision for TorchSharp, which has no autocast: while a region is open (in this flow of execution), the matmul-heavy helpers
/// below (<see cref="Linear(Tensor, Tensor, Tensor?)"/>, <see cref="Compute"/>) run in the region's type — bf16 — casting
/// their inputs and weights, and return results in that type. Everything else keeps its inputs' type: parameters are fp32
/// master weights, so LayerNorm, the residual stream (fp32 + bf16 promotes to fp32), softmax inside losses and every
/// reduction stay fp32; a cast is differentiable, so gradients and optimizer state are fp32 too. The host opens the region
/// for a whole run (set-up, losses, predictions), pre-training step and generation; plugin code only has to route its
/// matmuls through these helpers and take <see cref="Float"/> of logits before a loss.
/// </summary>
public static class Autocast
{
    // AsyncLocal, not thread-static: a command that awaits between forward passes (generation writing to the console) may
    // continue on another thread, and the region must follow it.
    static readonly AsyncLocal<ScalarType?> current = new();

    /// <summary>The type matmuls run in now (e.g. <c>BFloat16</c>), or null when no region is open (full precision).</summary>
    public static ScalarType? ComputeType => current.Value;

    /// <summary>Opens a region (null: full precision) for this flow of execution; disposing it restores the previous one.</summary>
    public static IDisposable Use(ScalarType? computeType)
    {
        var previous = current.Value;
        current.Value = computeType;
        return new Region(previous);
    }

    /// <summary>y = x·Wᵀ + b in the region's type; outside a region in the weight's type (the input is cast to it if needed).</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        var type = current.Value ?? weight.dtype;
        return torch.nn.functional.linear(Cast(input, type), Cast(weight, type), bias is null ? null : Cast(bias, type));
    }

    /// <summary>A Linear layer's forward pass under the region.</summary>
    public static Tensor Linear(Linear layer, Tensor input) => Linear(input, layer.weight!, layer.bias);

    /// <summary>A tensor in the region's type (attention inputs, prefixes); unchanged outside a region.</summary>
    public static Tensor Compute(Tensor t) => current.Value is { } type ? Cast(t, type) : t;

    /// <summary>At least fp32 for losses, softmax and reductions (logits come out of a region in bf16); fp32 and fp64 stay.</summary>
    public static Tensor Float(Tensor t) => t.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? t.to(ScalarType.Float32) : t;

    static Tensor Cast(Tensor t, ScalarType type) => t.dtype == type ? t : t.to(type);

    sealed class Region(ScalarType? previous) : IDisposable
    {
        public void Dispose() => current.Value = previous;
    }
}
