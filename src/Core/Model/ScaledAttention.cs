using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>What both attention layers (GPT and Llama) share after their projections: prefix keys/values put in front, and one
/// scaled-dot-product attention call with the causal flag where it can express the mask.</summary>
public static class ScaledAttention
{
    /// <summary>Puts a layer's prefix keys/values (prefix tuning: <see cref="IKeyValuePrefixProvider.GetPrefix"/>) in front of
    /// <paramref name="k"/> and <paramref name="v"/> ([B, heads, T, D]); prefixes take no position, as past key/values in Hugging
    /// Face's cache are not rotated again.</summary>
    internal static (Tensor K, Tensor V, long PrefixLength) WithPrefix((Tensor Keys, Tensor Values)? prefix, Tensor k, Tensor v)
    {
        if (prefix is not var (pk, pv)) return (k, v, 0);
        // Prefixes are fp32 parameters; keys may be bf16 under autocast.
        return (torch.cat([pk.to(k.dtype), k], 2), torch.cat([pv.to(v.dtype), v], 2), pk.shape[2]);
    }

    /// <summary>softmax(q·kᵀ/√d)·v over [B, H, T, D] heads, causal, with <paramref name="past"/> cached and
    /// <paramref name="prefixLength"/> prefix keys before the <paramref name="steps"/> new ones; <paramref name="keyPaddingMask"/>
    /// [B, past + T] switches keys off.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long steps, long past, long prefixLength, Tensor? keyPaddingMask,
        double dropout, bool training)
    {
        double p = training ? dropout : 0.0;
        bool plainCausal = prefixLength == 0 && past == 0 && keyPaddingMask is null;
        if (training && q.device.type == DeviceType.CPU)
        {
            // With dropout LibTorch's CPU SDPA leaves its flash kernel for the math path, which holds the T² scores in fp32 and drops
            // them with LibTorch's one-thread dropout: unfused attention holds them in the region's type (half the bytes in bf16,
            // measured 1.44× faster at gpt2-small's 1 × 12 × 1024², dropout 0.1) and drops them with FastDropout.
            bool bf16 = q.dtype == ScalarType.BFloat16;
            if (p > 0 || bf16 && KeptScores(q.shape[0] * q.shape[1], steps, k.shape[2]) <= UnfusedScoresLimit)
                return Unfused(q, k, v, plainCausal ? null : AttentionMask.Build(steps, past, prefixLength, keyPaddingMask, q.device), p);
            // LibTorch 2.10's CPU attention backward in bf16 measured 4× slower than in fp32 (small, 16 × 128: 39.5 against 9.9 ms
            // for 4 layers), its forward only 1.3× faster: past the limit a bf16 region trains CPU attention in fp32.
            if (bf16) (q, k, v) = (q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        }
        if (plainCausal) return functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
        // One query sees every key before it (prefix, cached, itself): a cached generation step needs no mask (seven ops a layer,
        // each ~10 µs while the step's weights stream through the caches).
        if (steps == 1 && keyPaddingMask is null) return functional.scaled_dot_product_attention(q, k, v, p: p);
        var mask = AttentionMask.Build(steps, past, prefixLength, keyPaddingMask, q.device);
        return functional.scaled_dot_product_attention(q, k, v, mask, p);
    }

    /// <summary>Most attention scores a layer (<see cref="KeptScores"/>) that bf16 training on CPU computes unfused without dropout:
    /// 16 MiB of bf16, whose softmax the backward pass keeps. One layer's forward and backward, AMX Xeon, 2 cores, against fp32
    /// SDPA: 16 × 4 × 128² (`small`) 1.88× faster, 8 × 12 × 256² 2.24×, 1 × 12 × 1024² in query blocks 1.7× (54 → 32 ms);
    /// past it SDPA's flash kernel, whose memory grows with T instead of T², is kept unless dropout rules it out.</summary>
    public const long UnfusedScoresLimit = 8L << 20;

    /// <summary>Queries a block of unfused attention: from two blocks on, each block scores only the keys its last query may
    /// see, so keys right of a block's last query are neither scored, softmaxed, dropped nor kept (at 1,024 steps 62.5 % of the
    /// square is scored: within each block the keys right of its earlier queries still are, and masked). One layer's forward and
    /// backward, AMX Xeon, 2 cores, against the whole square: 1 × 12 × 1024², bf16, dropout 0.1: 95 → 58 ms (128-row blocks 61,
    /// 512-row 75); fp32, dropout 0.1: 216 → 92 ms; 2 × 12 × 512²: 53 → 41 ms; at 256 steps and below blocks did not pay.</summary>
    public const long QueryBlockRows = 256;

    /// <summary>The scores unfused attention computes (and its backward pass keeps) for <paramref name="sequences"/> (batch ×
    /// heads) of <paramref name="steps"/> queries over <paramref name="keys"/> keys: the whole rectangle, or with query blocks the
    /// keys up to each block's last query.</summary>
    internal static long KeptScores(long sequences, long steps, long keys)
    {
        long scores = 0;
        foreach (var (start, rows) in QueryBlocks(steps)) scores += rows * VisibleKeys(steps, keys, start, rows);
        return sequences * scores;
    }

    /// <summary>The query blocks of unfused attention: one block below two blocks' worth of queries, else blocks of
    /// <see cref="QueryBlockRows"/> (the last may be shorter).</summary>
    static IEnumerable<(long Start, long Rows)> QueryBlocks(long steps)
    {
        long size = steps < 2 * QueryBlockRows ? Math.Max(steps, 1) : QueryBlockRows;
        long start = 0;
        do yield return (start, Math.Min(size, steps - start));   // no queries: one empty block, an empty output
        while ((start += size) < steps);
    }

    /// <summary>Keys the queries [start, start + rows) may see: every prefix and cached key, and the new ones up to the block's last
    /// query (the queries are the last <paramref name="steps"/> of the <paramref name="keys"/> positions).</summary>
    static long VisibleKeys(long steps, long keys, long start, long rows) => keys - steps + start + rows;

    /// <summary>Attention as nanoGPT writes it, in the inputs' type (bf16 or fp32), a block of queries at a time
    /// (<see cref="QueryBlockRows"/>): scores = mask + q·kᵀ/√d in one batched GEMM, softmax (LibTorch's bf16 softmax accumulates
    /// in fp32; only its output is rounded, as the next GEMM's input would be), <see cref="FastDropout"/> (a seed a block), ·v.
    /// <paramref name="mask"/> null means causal; causal bf16 scores where the CPU allows are q·kᵀ alone, scaled, masked and
    /// softmaxed by <see cref="CausalSoftmax"/>.</summary>
    static Tensor Unfused(Tensor q, Tensor k, Tensor v, Tensor? mask, double p)
    {
        // The scores, the bias and the heads' copies go as soon as the output is made (autograd keeps what it saved).
        using var scope = torch.NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], steps = q.shape[2], dim = q.shape[3], keys = k.shape[2];
        var (queries, keyRows, valueRows) =
            (q.reshape(batch * heads, steps, dim), k.reshape(batch * heads, keys, dim), v.reshape(batch * heads, keys, dim));
        double scale = 1 / Math.Sqrt(dim);
        // Plain causal bf16 attention masks and scales inside the softmax (CausalSoftmax) where the CPU allows; otherwise the
        // mask is a bias the scores' GEMM adds.
        var bias = mask is null && CausalSoftmax.Serves(q.dtype, q.device_type, keys) ? null : mask is null
            ? torch.full([steps, keys], double.NegativeInfinity, q.dtype, q.device).triu_(1)
            : torch.zeros(mask.shape, q.dtype, q.device).masked_fill_(mask.logical_not(), double.NegativeInfinity);
        // One mask for all sequences (prefix keys alone) broadcasts; padding masks differ by sequence, and each block takes its
        // rows of them for every head ([B, 1, T, K] → [B·H, rows, visible]).
        if (mask is not null && mask.shape[0] == 1) bias = bias!.view(steps, keys);
        var blocks = new List<Tensor>();
        foreach (var (start, rows) in QueryBlocks(steps))
        {
            long visible = VisibleKeys(steps, keys, start, rows);
            var blockKeys = keyRows.narrow(1, 0, visible).transpose(1, 2);
            Tensor weights;
            if (bias is null)
            {
                weights = CausalSoftmax.Apply(queries.narrow(1, start, rows).bmm(blockKeys), scale, keys - steps + start);
            }
            else
            {
                var blockBias = bias.narrow(bias.dim() - 2, start, rows).narrow(bias.dim() - 1, 0, visible);
                if (blockBias.dim() == 4)
                    blockBias = blockBias.expand(batch, heads, rows, visible).reshape(batch * heads, rows, visible);
                // TorchSharp 0.107's Tensor.baddbmm(batch2, mat) is mat + this·batch2 (its static torch.baddbmm passes the operands
                // on shifted by one, so it is not used).
                weights = queries.narrow(1, start, rows).baddbmm(blockKeys, blockBias, beta: 1, alpha: (float)scale).softmax(-1);
            }
            if (p > 0) weights = FastDropout.Apply(weights, p, training: true);
            blocks.Add(torch.bmm(weights, valueRows.narrow(1, 0, visible)));
        }
        var output = blocks.Count == 1 ? blocks[0] : torch.cat(blocks, 1);
        return scope.MoveToOuter(output.view(batch, heads, steps, dim));
    }
}
