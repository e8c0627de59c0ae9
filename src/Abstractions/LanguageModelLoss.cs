using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// Next-token cross-entropy from hidden states, with the LM head and the loss computed a chunk of rows at a time (in fp32, as
/// autocast does): the same value and gradients as one [N, V] logits tensor, but a chunk's logits are 16 MB (or 512 rows, whichever
/// is more: <see cref="RowsPerChunk"/>) rather than all N rows'. Allocations that
/// size are reused from the heap, where one of hundreds of MB is fresh memory each step — on the sandboxed build machines its page
/// faults made the LM head and the loss ~80 % of a small model's forward pass (a 134 MB empty tensor: 211 ms; eight 16 MB ones:
/// 12 ms; the host now keeps freed memory in its heap, which also serves the larger chunks of a large vocabulary). While
/// gradients are wanted and the decoder hands out its head (<see cref="IDecoder.LmHeadWeight"/>), the head and the loss run fused
/// (<see cref="FusedLinearCrossEntropy"/>): no chunk's logits are kept for the backward pass. Objectives with an auxiliary LM loss
/// (L1) should use it instead of materialising logits.
/// </summary>
public static class LanguageModelLoss
{
    /// <summary>Logits a chunk holds: 16 MB of fp32 ...</summary>
    const long ChunkLogitBytes = 16L << 20;
    /// <summary>... but at least this many rows: the chunk's rows are the inner dimension of the head's weight-gradient GEMM.
    /// </summary>
    const long MinRowsPerChunk = 512;

    /// <summary>Rows a chunk takes for a <paramref name="vocab"/>-word vocabulary: 16 MB of fp32 logits, at least 512 rows. At
    /// GPT-2's 50,257 words 16 MB is 83 rows, and the loss over 1,024 rows of width 768 took 597 ms against 358 at 512 rows and
    /// 338 at 1,024 (one process, alternating; AMX Xeon, bf16): GEMMs whose inner dimension is 83 run far below the CPU's rate.
    /// Since SDK 2.11.</summary>
    public static long RowsPerChunk(int vocab) => Math.Max(MinRowsPerChunk, ChunkLogitBytes / (4L * vocab));

    /// <summary>The summed loss of hidden states [.., C] against targets [..] (-1 ignored), and how many targets count (fp32).</summary>
    public static (Tensor Sum, Tensor Count) Sum(IDecoder model, Tensor hidden, Tensor targets, long? rowsPerChunk = null)
    {
        var rows = hidden.reshape(-1, hidden.shape[^1]);
        var flat = targets.reshape(-1);
        long n = rows.shape[0], chunk = rowsPerChunk ?? RowsPerChunk(model.Config.Vocab);
        var count = flat.ge(0).sum().to(ScalarType.Float32);
        if (torch.is_grad_enabled() && model.LmHeadWeight is { } head && (rows.requires_grad || head.requires_grad))
            return (FusedLinearCrossEntropy.Sum(rows, Autocast.Compute(head), flat, chunk), count);
        Tensor? sum = null;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = torch.NewDisposeScope();   // each chunk's logits go before the next chunk's are made
            long length = Math.Min(chunk, n - start);
            var logits = Autocast.Float(model.LmHead(rows.narrow(0, start, length)));
            var part = nn.functional.cross_entropy(logits, flat.narrow(0, start, length), ignore_index: -1,
                reduction: nn.Reduction.Sum);
            sum = scope.MoveToOuter(sum is null ? part : sum + part);
        }
        return (sum ?? torch.zeros(1, device: hidden.device).sum(), count);
    }

    /// <summary>The mean loss over the targets that count.</summary>
    public static Tensor Mean(IDecoder model, Tensor hidden, Tensor targets)
    {
        var (sum, count) = Sum(model, hidden, targets);
        return sum / count;
    }
}
