using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>Token sequences of different lengths as one batch, as objectives that score or generate text need.</summary>
public static class TokenBatch
{
    /// <summary>Right-padded ids [S, T] and lengths [S] on <paramref name="device"/>: under the causal mask real tokens never see the
    /// padding, so a sequence's logits do not depend on what it is batched with.</summary>
    public static (Tensor Ids, Tensor Lengths) RightPadded(IReadOnlyList<int[]> sequences, int pad, Device device) =>
        RightPadded(sequences, pad, device, sequences.Max(s => s.Length));

    /// <summary>Right-padded ids [S, T] and lengths [S] for <paramref name="model"/>, T rounded up to a <see cref="BucketWidth"/>:
    /// a run's batches then come in a few tensor sizes instead of one per longest sequence, which fragmented the heap (a
    /// text-to-text LoRA run on a 3 M-parameter base grew 9.3 GiB in 500 steps). Since SDK 2.10.</summary>
    public static (Tensor Ids, Tensor Lengths) RightPadded(IReadOnlyList<int[]> sequences, int pad, IDecoder model) =>
        RightPadded(sequences, pad, model.Device, BucketWidth(sequences.Max(s => s.Length), model.UsableContext));

    /// <summary>The padded width for a longest sequence of <paramref name="width"/> tokens: a multiple of 8 up to 32, above that
    /// four sizes per doubling (40, 48, 56, 64, 80, 96, 112, 128, 160, …: 16 sizes up to 256; past 32 at most 1.25 × the width,
    /// below it at most 7 positions more), never beyond <paramref name="context"/> (the model's usable context: virtual tokens
    /// take positions too) nor below <paramref name="width"/>. Since SDK 2.10.</summary>
    public static int BucketWidth(int width, int context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        int step = width <= 32 ? 8 : (int)(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)width + 1) / 8);
        int bucket = (width + step - 1) / step * step;
        return Math.Max(width, Math.Min(bucket, context));
    }

    static (Tensor Ids, Tensor Lengths) RightPadded(IReadOnlyList<int[]> sequences, int pad, Device device, int width)
    {
        var ids = new long[sequences.Count * width];
        Array.Fill(ids, pad);
        for (int i = 0; i < sequences.Count; i++) for (int t = 0; t < sequences[i].Length; t++) ids[i * width + t] = sequences[i][t];
        return (tensor(ids, [sequences.Count, width], device: device),
            tensor(sequences.Select(s => (long)s.Length).ToArray(), device: device));
    }

    /// <summary>The hidden state [S, C] at each sequence's last real token of <paramref name="hidden"/> [S, T, C].</summary>
    public static Tensor Last(Tensor hidden, Tensor lengths) =>
        hidden.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden.shape[2])).squeeze(1);

    /// <summary>
    /// Log-probabilities [N] of the tokens that <paramref name="picks"/> name, each predicted at one (sequence, position) of
    /// <paramref name="hidden"/> [S, T, C] (position t predicts token t + 1). Only those N rows go through the LM head: scoring an
    /// answer needs the vocabulary-wide softmax at its own positions, not at every prompt position. Since SDK 2.6.
    /// </summary>
    public static Tensor TokenLogProbabilities(IDecoder model, Tensor hidden,
        IReadOnlyList<(long Sequence, long Position, long Token)> picks)
    {
        long width = hidden.shape[1];
        var device = hidden.device;
        var rows = tensor(picks.Select(p => p.Sequence * width + p.Position).ToArray(), device: device);
        var tokens = tensor(picks.Select(p => p.Token).ToArray(), device: device).unsqueeze(1);
        var picked = hidden.reshape(-1, hidden.shape[2]).index_select(0, rows);   // [N, C]
        return Autocast.Float(model.LmHead(picked)).log_softmax(1).gather(1, tokens).squeeze(1);
    }

    /// <summary>
    /// Greedy continuations of many prompts at once (no KV cache: each step re-reads the right-padded batch, which is cheap for the
    /// short answers objectives generate and keeps every sequence's logits independent of the others). Each stops at
    /// <paramref name="stopToken"/> (not included), after <paramref name="maxNew"/> tokens, or when it fills
    /// <paramref name="room"/> positions. Call with gradients off.
    /// </summary>
    public static IReadOnlyList<int[]> Greedy(IDecoder model, IReadOnlyList<int[]> prompts, int maxNew, int stopToken, int pad, int room)
    {
        var sequences = prompts.Select(p => p.ToList()).ToList();
        var answers = prompts.Select(_ => new List<int>()).ToList();
        var done = prompts.Select(p => p.Length >= room).ToArray();
        for (int step = 0; step < maxNew && done.Any(d => !d); step++)
        {
            using var scope = NewDisposeScope();
            var open = Enumerable.Range(0, prompts.Count).Where(i => !done[i]).ToList();
            var (ids, lengths) = RightPadded([.. open.Select(i => sequences[i].ToArray())], pad, model);
            var next = Autocast.Float(model.LmHead(Last(model.Forward(ids), lengths))).argmax(1).cpu().data<long>().ToArray();
            for (int j = 0; j < open.Count; j++)
            {
                int i = open[j], token = (int)next[j];
                if (token == stopToken) { done[i] = true; continue; }
                sequences[i].Add(token);
                answers[i].Add(token);
                if (sequences[i].Count >= room) done[i] = true;
            }
        }
        return [.. answers.Select(a => a.ToArray())];
    }
}
