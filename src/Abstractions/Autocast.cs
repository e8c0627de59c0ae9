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
/// Inside <see cref="CacheCasts"/> a weight is cast once, not once per use (the LM head by every loss chunk of an evaluation, every
/// weight once per generated token), as PyTorch's autocast caches its weight casts; <see cref="CacheFrozenCasts"/> keeps a
/// frozen body's casts for a whole run.
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
        var (x, w, b) = (Cast(input, type), Cast(weight, type), bias is null ? null : Cast(bias, type));
        if (!Bf16MatrixVector.Applies(x, w, b)) return torch.nn.functional.linear(x, w, b);
        matrixVectorProducts++;
        return Bf16MatrixVector.Linear(x, w, b);
    }

    [ThreadStatic] static long matrixVectorProducts;

    /// <summary>Whether this CPU runs bf16 products of a few rows without gradients on the matrix–vector kernel (it needs
    /// accelerated 512-bit vectors: AVX-512 where .NET uses it); otherwise LibTorch's Linear serves them. <c>doctor</c> shows it.
    /// </summary>
    public static bool HasMatrixVectorKernel => Bf16MatrixVector.Available;

    /// <summary>How many of this thread's bf16 products of a few rows without gradients went to the fast matrix–vector kernel
    /// (a cached generation step's Linears): op-count checks compare it before and after.</summary>
    public static long MatrixVectorProducts => matrixVectorProducts;

    /// <summary>A Linear layer's forward pass under the region.</summary>
    public static Tensor Linear(Linear layer, Tensor input) => Linear(input, layer.weight!, layer.bias);

    /// <summary>A tensor in the region's type (attention inputs, prefixes); unchanged outside a region.</summary>
    public static Tensor Compute(Tensor t) => current.Value is { } type ? Cast(t, type) : t;

    /// <summary>At least fp32 for losses, softmax and reductions (logits come out of a region in bf16); fp32 and fp64 stay.</summary>
    public static Tensor Float(Tensor t) => t.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? t.to(ScalarType.Float32) : t;

    static Tensor Cast(Tensor t, ScalarType type)
    {
        if (t.dtype == type) return t;
        // Only parameters are kept: under no_grad every activation is a leaf too, and a new one each call.
        if (t is not Parameter weight) return t.to(type);
        if (caches.Value is { } cache) return cache.Get(weight, type);
        weightCasts++;
        return t.to(type);
    }

    [ThreadStatic] static long weightCasts;

    /// <summary>How many casts of parameters this thread has made so far: op-count checks compare it before and after a step.
    /// </summary>
    public static long WeightCasts => weightCasts;

    static readonly AsyncLocal<CastCache?> caches = new();

    /// <summary>
    /// Opens a cast cache for this flow of execution: until it is disposed, each weight is cast once. Open one per training
    /// step (and dispose it before the optimizer changes the weights), per evaluation pass and per generation; no weight may
    /// change while it is open. Caches nest; a frozen weight's cast goes to the outermost one (see
    /// <see cref="CacheFrozenCasts"/>).
    /// </summary>
    public static CastCache CacheCasts() => new CastCache(keepsTrainable: true).Open();

    /// <summary>Opens a cache that keeps only frozen weights' casts (weights that require no gradient): open one around a whole
    /// training run and frozen bodies (LoRA, (IA)³, prompts, probes) are cast once per run instead of once per step.</summary>
    public static CastCache CacheFrozenCasts() => new CastCache(keepsTrainable: false).Open();

    /// <summary>A cache not yet open, for work that comes back in pieces (generation, one token at a time):
    /// <see cref="CastCache.Enter"/> it for each piece, dispose it at the end.</summary>
    public static CastCache NewCastCache() => new(keepsTrainable: true);

    /// <summary>How many casts the open caches hold.</summary>
    public static int CachedCasts => caches.Value?.Count ?? 0;

    /// <summary>Casts kept by weight. A cache owns its casts (outside any dispose scope) and disposes them with itself; a
    /// trainable weight's cast is part of the step's graph, which keeps what it needs after the cache lets go.</summary>
    public sealed class CastCache : IDisposable
    {
        readonly bool keepsTrainable;
        readonly Dictionary<(Tensor, ScalarType, bool), Tensor> kept = new(new SourceComparer());
        CastCache? parent;

        internal CastCache(bool keepsTrainable) => this.keepsTrainable = keepsTrainable;

        internal int Count => kept.Count + (parent?.Count ?? 0);

        internal CastCache Open()
        {
            parent = caches.Value;
            caches.Value = this;
            return this;
        }

        /// <summary>Makes this cache the open one until the result is disposed (then the previous one is again).</summary>
        public IDisposable Enter()
        {
            var previous = caches.Value;
            Open();
            return new Exit(previous);
        }

        internal Tensor Get(Tensor weight, ScalarType type)
        {
            // A cast made with gradients off (a checkpointed block's first forward, an evaluation) has no graph: it must not
            // serve where gradients are on (the block's recomputation), or the weight would get no gradient.
            bool tracked = weight.requires_grad && torch.is_grad_enabled();
            var key = (weight, type, tracked);
            for (var c = this; c is not null; c = c.parent)
                if (c.kept.TryGetValue(key, out var hit)) return hit;
            var holder = weight.requires_grad ? Innermost(c => c.keepsTrainable) : Innermost(c => c.parent is null);
            weightCasts++;
            var cast = weight.to(type);
            if (holder is null) return cast;
            cast.DetachFromDisposeScope();
            holder.kept[key] = cast;
            return cast;
        }

        CastCache? Innermost(Func<CastCache, bool> accepts)
        {
            for (var c = this; c is not null; c = c.parent)
                if (accepts(c)) return c;
            return null;
        }

        /// <summary>Disposes the casts; closes the cache when it is the open one.</summary>
        public void Dispose()
        {
            if (ReferenceEquals(caches.Value, this)) caches.Value = parent;
            foreach (var t in kept.Values) t.Dispose();
            kept.Clear();
        }

        sealed class Exit(CastCache? previous) : IDisposable
        {
            public void Dispose() => caches.Value = previous;
        }
    }

    /// <summary>Weights are keys by identity (a tensor's equality is elementwise), with the type and whether the cast is tracked.
    /// </summary>
    sealed class SourceComparer : IEqualityComparer<(Tensor Weight, ScalarType Type, bool Tracked)>
    {
        public bool Equals((Tensor Weight, ScalarType Type, bool Tracked) a, (Tensor Weight, ScalarType Type, bool Tracked) b) =>
            ReferenceEquals(a.Weight, b.Weight) && a.Type == b.Type && a.Tracked == b.Tracked;

        public int GetHashCode((Tensor Weight, ScalarType Type, bool Tracked) key) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Weight), key.Type, key.Tracked);
    }

    sealed class Region(ScalarType? previous) : IDisposable
    {
        public void Dispose() => current.Value = previous;
    }
}
