using PluginGpt.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// Scores every label of every example under one pattern–verbalizer pair, in a decoder: the "mask" is the answer slot, read
/// left to right. s(l|x) is the best, over l's words, of the log-probability the model gives the word's tokens and all
/// that follows them (the filled-in text's likelihood from the slot on; one sequence per word). When the slot ends the
/// pattern and every word is one token, that is the next-token distribution after the prefix: one pass for all labels.
/// </summary>
public sealed class ClozeScorer(IDecoder model, ITokenizer tokenizer, Pattern pattern, Verbalizer verbalizer, int room)
{
    readonly IReadOnlyList<(int Label, string Word)> words =
        verbalizer.Words.SelectMany((ws, label) => ws.Select(w => (label, w))).ToList();

    /// <summary>Label scores [N, labels] (log-likelihoods, with gradient when grad is on).</summary>
    public Tensor Scores(IReadOnlyList<Example> batch)
    {
        // Every sequence starts with <|endoftext|>, so a slot at the very start still has a context to be predicted from.
        var filled = batch.Select(e => pattern.Encode(tokenizer, e, words.Select(w => w.Word).ToList(), room - 1)).ToList();
        bool oneStep = pattern.AnswerEnds && filled.All(f => f.All(s => s.Answer.Length == 1));
        var wordScores = oneStep ? NextToken(filled) : Filled(filled);   // [N, W]
        var byLabel = verbalizer.Words.Select((_, label) =>
        {
            var columns = torch.tensor(words.Select((w, i) => (w.Label, i)).Where(x => x.Label == label).Select(x => (long)x.i).ToArray(),
                device: wordScores.device);
            return wordScores.index_select(1, columns).max(1).values;
        });
        return torch.stack(byLabel.ToArray(), 1);
    }

    /// <summary>One pass per example over the prefix; each word's single token read at the slot.</summary>
    Tensor NextToken(IReadOnlyList<IReadOnlyList<(int[] Prefix, int[] Answer, int[] Suffix)>> filled)
    {
        var prefixes = filled.Select(f => f[0].Prefix.Prepend(tokenizer.SequenceStart).ToArray()).ToList();
        var (ids, lengths) = Batch(prefixes);
        var hidden = model.Forward(ids);
        var last = TokenBatch.Last(hidden, lengths);   // [N, C]
        var logp = Autocast.Float(model.LmHead(last)).log_softmax(1);                                         // [N, V]
        var targets = torch.tensor(filled.SelectMany(f => f.Select(s => (long)s.Answer[0])).ToArray(), [filled.Count, words.Count],
            device: logp.device);
        return logp.gather(1, targets);
    }

    /// <summary>One sequence per example and word; the sum of log-probabilities from the slot to the end.</summary>
    Tensor Filled(IReadOnlyList<IReadOnlyList<(int[] Prefix, int[] Answer, int[] Suffix)>> filled)
    {
        var sequences = filled
            .SelectMany(f => f.Select(s => s.Prefix.Prepend(tokenizer.SequenceStart).Concat(s.Answer).Concat(s.Suffix).ToArray()))
            .ToList();
        var starts = filled.SelectMany(f => f.Select(s => (long)s.Prefix.Length + 1)).ToArray();   // index of the slot's first token
        var (ids, lengths) = Batch(sequences);
        var logits = Autocast.Float(model.LmHead(model.Forward(ids)[.., ..^1]));   // predicts positions 1 … T-1
        var targets = ids[.., 1..];
        var tokenLogp = logits.log_softmax(2).gather(2, targets.unsqueeze(2)).squeeze(2);   // [S, T-1]
        var positions = torch.arange(1, ids.shape[1], device: ids.device).unsqueeze(0);      // position of each predicted token
        var scored = positions.ge(torch.tensor(starts, device: ids.device).unsqueeze(1)).logical_and(positions.lt(lengths.unsqueeze(1)));
        return (tokenLogp * scored.to(tokenLogp.dtype)).sum(1).view(filled.Count, words.Count);
    }

    (Tensor Ids, Tensor Lengths) Batch(IReadOnlyList<int[]> sequences) => TokenBatch.RightPadded(sequences, tokenizer.Pad, model.Device);
}
