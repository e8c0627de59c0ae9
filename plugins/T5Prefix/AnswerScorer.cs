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
        var input = tokenizer.EncodeStart(prompt);
        var sep = tokenizer.Encode(separator);
        var target = AnswerTokens(answer);
        int keep = room - 1 - sep.Length - Math.Max(reserve, target.Length);
        if (keep < 1)
            throw new OptionsException($"objective.options: the separator and answers need {room - keep} of {room} tokens; " +
                "use shorter answers or a longer max_length");
        return new AnswerSequence([tokenizer.SequenceStart, .. input.Take(keep), .. sep], target);
    }

    /// <summary>The answer's tokens (" answer", as the word follows the separator in running text) and the end of text.</summary>
    public int[] AnswerTokens(string answer) => [.. tokenizer.Encode(" " + answer), tokenizer.EndOfText];

    /// <summary>Mean cross-entropy over the answers' tokens (prompt tokens are not predicted).</summary>
    public Tensor Loss(IReadOnlyList<AnswerSequence> batch) => -AnswerLogProbabilities(batch).LogP.mean();

    /// <summary>Each sequence's answer log-likelihood [S] (the sum over its tokens), in chunks.</summary>
    public Tensor LogLikelihoods(IReadOnlyList<AnswerSequence> sequences)
    {
        var parts = new List<Tensor>();
        for (int i = 0; i < sequences.Count; i += Chunk)
        {
            var chunk = sequences.Skip(i).Take(Chunk).ToList();
            var (logp, owner) = AnswerLogProbabilities(chunk);
            parts.Add(torch.zeros(chunk.Count, logp.dtype, logp.device).index_add(0, owner, logp, 1));
        }
        return torch.cat(parts, 0);
    }

    /// <summary>The log-probability of every answer token [N] and the sequence it belongs to [N]. Only the positions that
    /// predict an answer token go through the LM head: a vocabulary-wide softmax at every prompt position would cost gigabytes
    /// for STS-B's 26 answers a prompt with a GPT-2 vocabulary.</summary>
    (Tensor LogP, Tensor Owner) AnswerLogProbabilities(IReadOnlyList<AnswerSequence> batch)
    {
        var sequences = batch.Select(s => s.Prompt.Concat(s.Answer).ToArray()).ToList();
        var (ids, _) = Padded(sequences);
        var picks = new List<(long, long, long)>();
        for (int s = 0; s < batch.Count; s++)
            // Position t predicts token t + 1: the answer's tokens [P, P + A) are predicted at [P - 1, P + A - 1).
            for (int t = batch[s].Prompt.Length - 1; t < sequences[s].Length - 1; t++) picks.Add((s, t, sequences[s][t + 1]));
        var logp = TokenBatch.TokenLogProbabilities(model, model.Forward(ids), picks);
        var owners = picks.Select(p => p.Item1).ToArray();
        return (logp, torch.tensor(owners, device: ids.device));
    }

    /// <summary>Greedy answers to <paramref name="prompts"/>: at most <paramref name="maxNew"/> tokens each, without the end of
    /// text.</summary>
    public IReadOnlyList<int[]> Greedy(IReadOnlyList<int[]> prompts, int maxNew) =>
        TokenBatch.Greedy(model, prompts, maxNew, tokenizer.EndOfText, tokenizer.Pad, room);

    public string Decode(int[] ids) => tokenizer.Decode(ids);

    (Tensor Ids, Tensor Lengths) Padded(IReadOnlyList<int[]> sequences) => TokenBatch.RightPadded(sequences, tokenizer.Pad, model);
}
