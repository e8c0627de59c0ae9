using PluginGpt.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>One text-to-text sequence: <c>&lt;|endoftext|&gt;</c> + prefixed input + separator, then the answer +
/// <c>&lt;|endoftext|&gt;</c>.</summary>
public sealed record AnswerSequence(int[] Prompt, int[] Answer);

/// <summary>
/// The decoder as a text-to-text model: the loss on the answer's tokens alone (teacher forcing, the prompt masked), an answer's
/// log-likelihood, and batched greedy generation of short answers (the SDK's <see cref="TokenBatch.Greedy"/>: many prompts of
/// different lengths at once, each stopped at its own end of text).
/// </summary>
public sealed class AnswerScorer(IDecoder model, ITokenizer tokenizer, int room)
{
    /// <summary>Most sequences per forward pass when scoring candidates (STS-B has 26 per example).</summary>
    const int Chunk = 256;

    /// <summary>The sequence for <paramref name="prompt"/> and <paramref name="answer"/>; the input is cut from its end so that the
    /// separator and the longest answer (<paramref name="reserve"/> tokens with its end of text) still fit.</summary>
    public AnswerSequence Encode(string prompt, string separator, string answer, int reserve)
    {
        var input = tokenizer.Encode(prompt);
        var sep = tokenizer.Encode(separator);
        var target = AnswerTokens(answer);
        int keep = room - 1 - sep.Length - Math.Max(reserve, target.Length);
        if (keep < 1)
            throw new OptionsException($"objective.options: the separator and answers need {room - keep} of {room} tokens; " +
                "use shorter answers or a longer max_length");
        return new AnswerSequence([tokenizer.EndOfText, .. input.Take(keep), .. sep], target);
    }

    /// <summary>The answer's tokens (" answer", as the word follows the separator in running text) and the end of text.</summary>
    public int[] AnswerTokens(string answer) => [.. tokenizer.Encode(" " + answer), tokenizer.EndOfText];

    /// <summary>Mean cross-entropy over the answers' tokens (prompt tokens are not predicted).</summary>
    public Tensor Loss(IReadOnlyList<AnswerSequence> batch)
    {
        var (logp, mask) = AnswerLogProbabilities(batch);
        return -(logp * mask).sum() / mask.sum();
    }

    /// <summary>Each sequence's answer log-likelihood [S] (the sum over its tokens), in chunks.</summary>
    public Tensor LogLikelihoods(IReadOnlyList<AnswerSequence> sequences)
    {
        var parts = new List<Tensor>();
        for (int i = 0; i < sequences.Count; i += Chunk)
        {
            var (logp, mask) = AnswerLogProbabilities(sequences.Skip(i).Take(Chunk).ToList());
            parts.Add((logp * mask).sum(1));
        }
        return torch.cat(parts, 0);
    }

    /// <summary>Log-probabilities [S, T-1] of every next token, and the mask [S, T-1] of positions that predict an answer token.</summary>
    (Tensor LogP, Tensor Mask) AnswerLogProbabilities(IReadOnlyList<AnswerSequence> batch)
    {
        var (ids, _) = Padded(batch.Select(s => s.Prompt.Concat(s.Answer).ToArray()).ToList());
        var logits = Autocast.Float(model.LmHead(model.Forward(ids)[.., ..^1]));
        var logp = logits.log_softmax(2).gather(2, ids[.., 1..].unsqueeze(2)).squeeze(2);
        // Position t predicts token t + 1: the answer's tokens [P, P + A) are predicted at [P - 1, P + A - 1).
        var starts = torch.tensor(batch.Select(s => (long)s.Prompt.Length - 1).ToArray(), device: ids.device).unsqueeze(1);
        var ends = torch.tensor(batch.Select(s => (long)(s.Prompt.Length + s.Answer.Length - 1)).ToArray(), device: ids.device)
            .unsqueeze(1);
        var positions = torch.arange(ids.shape[1] - 1, device: ids.device).unsqueeze(0);
        var mask = positions.ge(starts).logical_and(positions.lt(ends)).to(logp.dtype);
        return (logp, mask);
    }

    /// <summary>Greedy answers to <paramref name="prompts"/>: at most <paramref name="maxNew"/> tokens each, without the end of
    /// text.</summary>
    public IReadOnlyList<int[]> Greedy(IReadOnlyList<int[]> prompts, int maxNew) =>
        TokenBatch.Greedy(model, prompts, maxNew, tokenizer.EndOfText, tokenizer.Pad, room);

    public string Decode(int[] ids) => tokenizer.Decode(ids);

    (Tensor Ids, Tensor Lengths) Padded(IReadOnlyList<int[]> sequences) => TokenBatch.RightPadded(sequences, tokenizer.Pad, model.Device);
}
