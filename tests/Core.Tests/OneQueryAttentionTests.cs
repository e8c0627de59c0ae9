using System.Runtime.Intrinsics;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>A cached bf16 step's attention in one call (<see cref="OneQueryAttention"/>): the cache written and
/// softmax(q·kᵀ/√d)·v as LibTorch's SDPA computes it, for heads whose width is all remainder, whole vectors, or both; a model's
/// cached steps as recomputing gives them; LibTorch's path wherever the call does not apply (fp32 among them).</summary>
public class OneQueryAttentionTests
{
    static readonly bool Accelerated = Vector512.IsHardwareAccelerated;

    /// <summary>Head widths 8 (no whole 32-value vector), 32 (one) and 40 (one and a remainder); 19 cached positions + this one
    /// (a whole 16-wide softmax vector and a remainder).</summary>
    [Theory]
    [InlineData(8)]
    [InlineData(32)]
    [InlineData(40)]
    public void One_call_writes_the_cache_and_attends_as_SDPA_does(int headDim)
    {
        if (!Accelerated) return;   // without 512-bit vectors the call never applies (see the fallback test)
        manual_seed(3);
        using var scope = NewDisposeScope();
        const int heads = 3, past = 19;
        var type = ScalarType.BFloat16;
        using var cache = new KvCache(1);
        var (pastKeys, pastValues) = (randn(1, heads, past, headDim).to(type), randn(1, heads, past, headDim).to(type));
        using (no_grad()) cache.Append(0, pastKeys, pastValues);
        var qkv = randn(1, 1, 3 * heads * headDim).to(type);
        Assert.True(OneQueryAttention.Applies(qkv, new AttentionContext(cache, past, null, null), dropout: false, heads, headDim));

        var output = OneQueryAttention.Attend(qkv, cache, 0, heads, headDim);

        Tensor Heads(Tensor t) => t.view(1, 1, heads, headDim).transpose(1, 2);
        var parts = qkv.split(heads * headDim, 2);
        var (keys, values) = (cat([pastKeys, Heads(parts[1])], 2), cat([pastValues, Heads(parts[2])], 2));
        Assert.Equal(past + 1, cache.Length);
        var (keyBuffer, valueBuffer) = cache.Reserve(0, 1, heads, headDim, type, qkv.device, 0);
        Assert.True(keyBuffer.narrow(2, 0, past + 1).eq(keys).all().item<bool>());
        Assert.True(valueBuffer.narrow(2, 0, past + 1).eq(values).all().item<bool>());
        // The reference in fp32 from the same bf16 values: exact up to summation order; the output rounds it to bf16 once.
        var expected = nn.functional.scaled_dot_product_attention(Heads(parts[0]).to(ScalarType.Float32),
            keys.to(ScalarType.Float32), values.to(ScalarType.Float32)).transpose(1, 2).reshape(1, 1, heads * headDim);
        Assert.Equal(type, output.dtype);
        var error = (output.to(ScalarType.Float32) - expected).abs();
        var allowed = expected.abs() * Math.Pow(2, -8) + 1e-6;   // within one unit in bf16's last place
        Assert.True(error.le(allowed).all().item<bool>(), $"max error {error.max().item<float>()}");
    }

    /// <summary>Model width 32, 64 and 80 with two heads: head widths 16, 32, 40.</summary>
    [Theory]
    [InlineData(32, false)]
    [InlineData(64, false)]
    [InlineData(80, false)]
    [InlineData(32, true)]
    [InlineData(64, true)]
    [InlineData(80, true)]
    public void A_models_cached_steps_give_what_recomputing_the_sequence_gives(int width, bool bf16)
    {
        manual_seed(5);
        var config = Presets.Tiny with { ModelDim = width, EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 };
        using var model = new Decoder(config);
        model.eval();
        if (bf16) model.to(ScalarType.BFloat16);
        using var region = Autocast.Use(bf16 ? ScalarType.BFloat16 : null);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(0, model.Config.Vocab, [1, 21]);
        using var cache = new KvCache(model.Config.Layers);
        model.Logits(ids.narrow(1, 0, 17), cache);   // the prompt: several positions, LibTorch's path
        for (int position = 17; position < 21; position++)
        {
            long before = OneQueryAttention.Calls;
            var cached = model.Logits(ids.narrow(1, position, 1), cache)[0, -1].to(ScalarType.Float32);
            Assert.Equal(Accelerated && bf16 ? model.Config.Layers : 0, OneQueryAttention.Calls - before);   // fp32: LibTorch's
            var recomputed = model.Logits(ids.narrow(1, 0, position + 1))[0, -1].to(ScalarType.Float32);
            double scale = recomputed.abs().max().item<float>();
            float difference = (cached - recomputed).abs().max().item<float>();
            // bf16: the cached step's products and attention round differently from the recomputing GEMMs (as in MatrixVectorTests).
            Assert.True(difference <= (bf16 ? 0.02 * scale : 1e-5 * scale + 1e-6), $"position {position}: {difference}");
        }
    }

    [Fact]
    public void LibTorch_attends_where_one_call_does_not_apply()
    {
        using var scope = NewDisposeScope();
        using var cache = new KvCache(1);
        var context = new AttentionContext(cache, 0, null, null);
        static bool Applies(Tensor qkv, AttentionContext context, bool dropout = false) =>
            OneQueryAttention.Applies(qkv, context, dropout, heads: 2, headDim: 4);   // 3 · 2 · 4 = 24 wide
        var qkv = randn(1, 1, 24).to(ScalarType.BFloat16);
        Assert.Equal(Accelerated, Applies(qkv, context));
        Assert.False(Applies(randn(1, 1, 24), context));   // fp32
        Assert.False(Applies(qkv, context, dropout: true));
        Assert.False(Applies(randn(1, 1, 30).to(ScalarType.BFloat16), context));   // not q, k and v of 2 heads of 4
        Assert.False(Applies(qkv, context with { Cache = null }));
        Assert.False(Applies(qkv, context with { KeyPaddingMask = ones(1, 1) }));
        Assert.False(Applies(randn(1, 2, 24).to(ScalarType.BFloat16), context));   // two positions
        Assert.False(Applies(randn(2, 1, 24).to(ScalarType.BFloat16), context));   // two sequences
        Assert.False(Applies(qkv.to(ScalarType.Float16), context));
        Assert.False(Applies(randn(1, 1, 48).to(ScalarType.BFloat16).slice(2, 0, 48, 2), context));   // not contiguous
        var tracked = randn(1, 1, 24).to(ScalarType.BFloat16).requires_grad_(true);
        Assert.False(Applies(tracked, context));   // a gradient

        // A layer's prefix keys (prefix tuning) keep LibTorch's path for that layer; the other layers attend in one call, and the
        // step still matches recomputing.
        manual_seed(7);
        using var model = new Decoder(Presets.Tiny with { EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 });
        model.eval();
        model.to(ScalarType.BFloat16);
        using var region = Autocast.Use(ScalarType.BFloat16);
        var shape = new long[] { 1, model.Config.Heads, 3, model.Config.HeadDim };
        model.KeyValuePrefix = new PrefixAtLayer(1, randn(shape).to(ScalarType.BFloat16), randn(shape).to(ScalarType.BFloat16));
        using var noGrad = no_grad();
        var ids = randint(0, model.Config.Vocab, [1, 6]);
        using var modelCache = new KvCache(model.Config.Layers);
        model.Logits(ids.narrow(1, 0, 5), modelCache);
        long before = OneQueryAttention.Calls;
        var cached = model.Logits(ids.narrow(1, 5, 1), modelCache)[0, -1].to(ScalarType.Float32);
        Assert.Equal(Accelerated ? model.Config.Layers - 1 : 0, OneQueryAttention.Calls - before);
        var recomputed = model.Logits(ids)[0, -1].to(ScalarType.Float32);
        Assert.True((cached - recomputed).abs().max().item<float>() <= 0.02 * recomputed.abs().max().item<float>());
    }

    /// <summary>A one-token prompt attends in one call from the first position on (an empty cache), and the cache's buffers
    /// grow under the calls (past the 65 positions a first buffer holds).</summary>
    [Fact]
    public void Calls_start_from_an_empty_cache_and_go_on_past_a_buffers_growth()
    {
        manual_seed(9);
        var config = Presets.Tiny with { Context = 128, EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 };
        using var model = new Decoder(config);
        model.eval();
        model.to(ScalarType.BFloat16);
        using var region = Autocast.Use(ScalarType.BFloat16);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = randint(0, config.Vocab, [1, 80]);
        using var cache = new KvCache(config.Layers);
        long before = OneQueryAttention.Calls;
        Tensor cached = null!;
        for (int position = 0; position < 80; position++) cached = model.Logits(ids.narrow(1, position, 1), cache)[0, -1];
        Assert.Equal(Accelerated ? 80 * config.Layers : 0, OneQueryAttention.Calls - before);
        Assert.True(cache.Capacity > 65);
        var recomputed = model.Logits(ids)[0, -1].to(ScalarType.Float32);
        var error = (cached.to(ScalarType.Float32) - recomputed).abs().max().item<float>();
        Assert.True(error <= 0.02 * recomputed.abs().max().item<float>(), $"{error}");
    }

    /// <summary>Prefix keys and values at one layer only.</summary>
    sealed class PrefixAtLayer(int layer, Tensor keys, Tensor values) : IKeyValuePrefixProvider
    {
        public (Tensor Keys, Tensor Values)? GetPrefix(int at, long batchSize) => at == layer ? (keys, values) : null;
    }
}
