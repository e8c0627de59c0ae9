using PluginGpt.Core.Model;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>Both decoder families attend through <see cref="ScaledAttention"/>: on CPU, bf16 training attends unfused in bf16 up to
/// <see cref="ScaledAttention.UnfusedScoresLimit"/> scores a layer and in fp32 past it (LibTorch's bf16 attention backward is slower
/// than fp32's there); inference keeps bf16.</summary>
public class ScaledAttentionTests
{
    static (Tensor Q, Tensor K, Tensor V) Heads(ScalarType dtype, long batch = 2, long steps = 5)
    {
        var g = new TorchSharp.torch.Generator(7);
        Tensor Draw() => randn([batch, 3, steps, 8], generator: g).to(dtype);
        return (Draw(), Draw(), Draw());
    }

    static Tensor Fp32(Tensor t) => t.detach().to(ScalarType.Float32).requires_grad_(true);

    /// <summary>bf16 keeps 8 bits of mantissa: scores, weights and outputs of size ~1 are each rounded by up to 2⁻⁸ relative.</summary>
    const double Bf16Tolerance = 3e-2;

    [Theory]
    [InlineData(2, 5)]                                            // one block
    [InlineData(1, 2 * ScaledAttention.QueryBlockRows + 7)]       // query blocks: two whole ones and a tail
    public void Bf16_training_on_cpu_attends_unfused_in_bf16_matching_fp32_attention_and_its_gradients(long batch, long steps)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.BFloat16, batch, steps);
        var (q16, k16, v16) = (q.requires_grad_(true), k.requires_grad_(true), v.requires_grad_(true));
        var trained = ScaledAttention.Attend(q16, k16, v16, steps, 0, 0, null, 0.0, training: true);
        var (q32, k32, v32) = (Fp32(q), Fp32(k), Fp32(v));
        var reference = nn.functional.scaled_dot_product_attention(q32, k32, v32, is_casual: true);
        Assert.Equal(ScalarType.BFloat16, trained.dtype);
        Assert.True(trained.to(ScalarType.Float32).allclose(reference, rtol: 0, atol: Bf16Tolerance));
        // The first query sees only itself: its output is v's first row exactly, as the causal mask says.
        Assert.True(trained[.., .., 0].allclose(v[.., .., 0], rtol: 0, atol: 0));

        var upstream = randn(trained.shape, generator: new TorchSharp.torch.Generator(3));
        (trained.to(ScalarType.Float32) * upstream).sum().backward();
        (reference * upstream).sum().backward();
        foreach (var (ours, fp32) in new[] { (q16, q32), (k16, k32), (v16, v32) })
            Assert.True(ours.grad!.to(ScalarType.Float32).allclose(fp32.grad!, rtol: 0, atol: 2 * Bf16Tolerance));
    }

    [Fact]
    public void Bf16_training_with_a_padding_mask_and_prefix_keys_matches_fp32_attention_under_the_same_mask() =>
        AssertPrefixAttentionMatchesFp32(tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 }).view(2, 5));   // row 2: 2 padded keys

    [Fact]
    public void Bf16_training_with_prefix_keys_alone_matches_fp32_attention() =>
        AssertPrefixAttentionMatchesFp32(null);   // one mask for all sequences

    /// <summary>Bf16 training attention with 2 prefix keys in front, under <paramref name="padding"/> (null: none), against fp32
    /// SDPA under the mask written out by hand.</summary>
    static void AssertPrefixAttentionMatchesFp32(Tensor? padding)
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.BFloat16);
        var (prefixK, prefixV) = (randn([2, 3, 2, 8]).to(ScalarType.BFloat16), randn([2, 3, 2, 8]).to(ScalarType.BFloat16));
        var (keys, values) = (cat([prefixK, k], 2), cat([prefixV, v], 2));
        var trained = ScaledAttention.Attend(q, keys, values, 5, 0, 2, padding, 0.0, training: true);
        var reference = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), keys.to(ScalarType.Float32),
            values.to(ScalarType.Float32), AttentionMaskFor(padding ?? ones([2, 5], ScalarType.Int64)));
        Assert.Equal(ScalarType.BFloat16, trained.dtype);
        Assert.True(trained.to(ScalarType.Float32).allclose(reference, rtol: 0, atol: Bf16Tolerance));
    }

    /// <summary>The mask written out by hand: 2 prefix keys always visible, then causal real keys minus padding (a query always
    /// sees itself).</summary>
    static Tensor AttentionMaskFor(Tensor padding)
    {
        var mask = zeros([2, 1, 5, 7], ScalarType.Bool);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 5; t++)
            {
                mask[b, 0, t, 0] = mask[b, 0, t, 1] = tensor(true);
                for (int s = 0; s <= t; s++)
                    if (padding[b, s].item<long>() == 1 || s == t) mask[b, 0, t, 2 + s] = tensor(true);
            }
        return mask;
    }

    [Fact]
    public void Bf16_training_past_the_unfused_limit_attends_in_fp32_with_the_fp32_result()
    {
        using var scope = NewDisposeScope();
        const long steps = 2048;   // 2 × 3 heads × 2048² scores, ~14 M of them in query blocks: past the limit
        Assert.True(ScaledAttention.KeptScores(2 * 3, steps, steps) > ScaledAttention.UnfusedScoresLimit);
        var (q, k, v) = Heads(ScalarType.BFloat16, batch: 2, steps: steps);
        var trained = ScaledAttention.Attend(q, k, v, steps, 0, 0, null, 0.0, training: true);
        var reference = nn.functional.scaled_dot_product_attention(
            q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), is_casual: true);
        Assert.Equal(ScalarType.Float32, trained.dtype);
        Assert.True(trained.allclose(reference, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Bf16_training_with_dropout_attends_unfused_in_bf16_at_any_size()
    {
        using var scope = NewDisposeScope();
        const long steps = 2048;   // past the limit, where without dropout fp32 SDPA is kept (above)
        var (q, k, v) = Heads(ScalarType.BFloat16, batch: 1, steps: steps);
        manual_seed(11);
        var trained = ScaledAttention.Attend(q, k, v, steps, 0, 0, null, 0.5, training: true);
        Assert.Equal(ScalarType.BFloat16, trained.dtype);
        // Dropout zeroes about half of each row's weights and doubles the rest: the outputs differ from dropout-free attention.
        var plain = nn.functional.scaled_dot_product_attention(
            q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), is_casual: true);
        Assert.False(trained.to(ScalarType.Float32).allclose(plain, rtol: 0, atol: 0.1));
        // The first query sees only itself: kept, its output is 2·v; dropped, 0.
        var first = trained[0, .., 0].to(ScalarType.Float32);
        var v0 = v[0, .., 0].to(ScalarType.Float32);
        for (int head = 0; head < 3; head++)
            Assert.True(first[head].allclose(2 * v0[head], rtol: 0, atol: 0) || first[head].abs().max().item<float>() == 0);
    }

    [Fact]
    public void Fp32_training_with_dropout_on_cpu_attends_unfused_dropping_the_weights_with_FastDropouts_mask()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.Float32, batch: 2, steps: 6);
        manual_seed(23);
        ulong seed = (ulong)randint(0, long.MaxValue, [1], dtype: ScalarType.Int64).item<long>();   // the generator's next draw
        manual_seed(23);
        var trained = ScaledAttention.Attend(q, k, v, 6, 0, 0, null, 0.3, training: true);
        // softmax(q·kᵀ/√d + causal mask) ⊙ FastDropout's mask for that draw, then ·v: SDPA's own dropout would draw another mask.
        var scores = matmul(q, k.transpose(2, 3)) / Math.Sqrt(8) + full([6, 6], double.NegativeInfinity).triu(1);
        var mask = empty([2 * 3, 6, 6]);
        FastDropout.Fill(mask, 0.3, seed);
        var expected = matmul(scores.softmax(-1) * mask.view(2, 3, 6, 6), v);
        Assert.Equal(ScalarType.Float32, trained.dtype);
        Assert.True(trained.allclose(expected, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void Query_blocks_score_only_the_keys_each_block_may_see()
    {
        const long block = ScaledAttention.QueryBlockRows;
        Assert.Equal(3 * 100 * 100, ScaledAttention.KeptScores(3, 100, 100));             // one block below two blocks' worth
        Assert.Equal(block * block + block * 2 * block, ScaledAttention.KeptScores(1, 2 * block, 2 * block));
        // A tail block, and 4 prefix keys every query sees.
        long steps = 2 * block + 10, keys = steps + 4;
        Assert.Equal(block * (block + 4) + block * (2 * block + 4) + 10 * keys, ScaledAttention.KeptScores(1, steps, keys));
    }

    [Fact]
    public void Unfused_attention_over_no_queries_gives_an_empty_output()
    {
        var (q, k, v) = Heads(ScalarType.Float32, batch: 1, steps: 0);
        var output = ScaledAttention.Attend(q, k, v, 0, 0, 0, null, 0.1, training: true);   // dropout: the unfused path
        Assert.Equal(new long[] { 1, 3, 0, 8 }, output.shape);
    }

    [Fact]
    public void Query_blocks_under_a_padding_mask_and_prefix_keys_match_fp32_attention_under_the_same_mask()
    {
        using var scope = NewDisposeScope();
        const long steps = 2 * ScaledAttention.QueryBlockRows + 3, prefix = 2;
        var (q, k, v) = Heads(ScalarType.BFloat16, batch: 2, steps: steps);
        var (prefixK, prefixV) = (randn([2, 3, prefix, 8]).to(ScalarType.BFloat16), randn([2, 3, prefix, 8]).to(ScalarType.BFloat16));
        var (keys, values) = (cat([prefixK, k], 2), cat([prefixV, v], 2));
        var padding = ones([2, steps], ScalarType.Int64);
        padding[1, TensorIndex.Slice(steps - 100)] = tensor(0L);   // sequence 2: its last 100 keys padded
        var trained = ScaledAttention.Attend(q, keys, values, steps, 0, prefix, padding, 0.0, training: true);
        var mask = Visible(2, steps, prefix, padding);
        var reference = nn.functional.scaled_dot_product_attention(q.to(ScalarType.Float32), keys.to(ScalarType.Float32),
            values.to(ScalarType.Float32), mask);
        Assert.True(trained.to(ScalarType.Float32).allclose(reference, rtol: 0, atol: Bf16Tolerance));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fp32_training_with_dropout_in_query_blocks_draws_one_mask_a_block_over_the_keys_it_sees(bool prefixAndPadding)
    {
        using var scope = NewDisposeScope();
        const long block = ScaledAttention.QueryBlockRows, steps = 2 * block + 5;
        long batch = prefixAndPadding ? 2 : 1, prefix = prefixAndPadding ? 2 : 0;
        var (q, k, v) = Heads(ScalarType.Float32, batch: batch, steps: steps);
        Tensor? padding = null;
        if (prefixAndPadding)
        {
            (k, v) = (cat([randn([batch, 3, prefix, 8]), k], 2), cat([randn([batch, 3, prefix, 8]), v], 2));
            padding = ones([batch, steps], ScalarType.Int64);
            padding[1, TensorIndex.Slice(steps - 100)] = tensor(0L);
        }
        manual_seed(29);
        var seeds = Enumerable.Range(0, 3)   // the generator's next three draws: one a block
            .Select(_ => (ulong)randint(0, long.MaxValue, [1], dtype: ScalarType.Int64).item<long>()).ToArray();
        manual_seed(29);
        var trained = ScaledAttention.Attend(q, k, v, steps, 0, prefix, padding, 0.3, training: true);
        var weights = (matmul(q, k.transpose(2, 3)) / Math.Sqrt(8)
            + zeros([batch, 1, steps, prefix + steps]).masked_fill_(Visible(batch, steps, prefix, padding).logical_not(),
                double.NegativeInfinity)).softmax(-1);
        var expected = new List<Tensor>();
        foreach (var (start, rows, seed) in new[] { (0L, block, seeds[0]), (block, block, seeds[1]), (2 * block, 5L, seeds[2]) })
        {
            long visible = prefix + start + rows;
            var mask = empty([batch * 3, rows, visible]);
            FastDropout.Fill(mask, 0.3, seed);
            var blockWeights = weights[.., .., TensorIndex.Slice(start, start + rows), TensorIndex.Slice(0, visible)]
                * mask.view(batch, 3, rows, visible);
            expected.Add(matmul(blockWeights, v[.., .., TensorIndex.Slice(0, visible)]));
        }
        Assert.True(trained.allclose(cat(expected, 2), rtol: 0, atol: 1e-5));
    }

    /// <summary>[B, 1, T, P + T]: prefix keys always visible, then causal keys minus padding (a query always sees itself).</summary>
    static Tensor Visible(long batch, long steps, long prefix, Tensor? padding)
    {
        var position = arange(steps);
        var real = position.unsqueeze(0).le(position.unsqueeze(1)).unsqueeze(0).expand(batch, steps, steps);
        if (padding is not null)
            real = real.logical_and(padding.to_type(ScalarType.Bool).unsqueeze(1)).logical_or(eye(steps, dtype: ScalarType.Bool));
        return cat([ones([batch, steps, prefix], ScalarType.Bool), real], 2).unsqueeze(1);
    }

    [Fact]
    public void Bf16_inference_stays_bf16_and_a_padding_mask_matches_the_causal_flag_when_it_masks_nothing()
    {
        using var scope = NewDisposeScope();
        var (q, k, v) = Heads(ScalarType.BFloat16);
        var inferred = ScaledAttention.Attend(q, k, v, 5, 0, 0, null, 0.0, training: false);
        Assert.Equal(ScalarType.BFloat16, inferred.dtype);

        var (q32, k32, v32) = Heads(ScalarType.Float32);
        var causal = ScaledAttention.Attend(q32, k32, v32, 5, 0, 0, null, 0.0, training: true);
        var masked = ScaledAttention.Attend(q32, k32, v32, 5, 0, 0, ones([2, 5], ScalarType.Int64), 0.0, training: true);
        Assert.Equal(ScalarType.Float32, causal.dtype);
        Assert.True(causal.allclose(masked, rtol: 0, atol: 1e-6));
    }
}
