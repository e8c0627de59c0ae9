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
/// <param name="verbalizer">null for a multiple-choice task (PET's COPA): each example's options are its answers.</param>
public sealed class ClozeScorer(IDecoder model, ITokenizer tokenizer, Pattern pattern, Verbalizer? verbalizer, int room)
{
    readonly IReadOnlyList<(int Label, string Word)> words =
        verbalizer?.Words.SelectMany((ws, label) => ws.Select(w => (label, w))).ToList() ?? [];

    /// <summary>Label scores [N, labels] (log-likelihoods, with gradient when grad is on); for multiple choice [N, options].</summary>
    public Tensor Scores(IReadOnlyList<Example> batch)
    {
        if (verbalizer is null) return OptionScores(batch);
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

    /// <summary>
    /// Multiple choice as PET scores COPA: each option, its first letter lowered and its final punctuation dropped (PET's
    /// <c>lowercase_first</c>, <c>remove_final_punc</c>), fills the slot; its score is the filled text's log-likelihood from the
    /// slot on. Every example of a task has the same number of options.
    /// </summary>
    Tensor OptionScores(IReadOnlyList<Example> batch)
    {
        if (batch.Any(e => e.Options is not { Count: > 1 } || e.Options.Count != batch[0].Options!.Count))
            throw new DataException("pet: a multiple-choice batch needs the same number (≥ 2) of options in every example");
        var filled = batch.Select(e => pattern.Encode(tokenizer, e, e.Options!.Select(AsAnswer).ToList(), room - 1)).ToList();
        return Filled(filled);
    }

    static string AsAnswer(string option)
    {
        var text = option.Trim().TrimEnd('.', '!', '?', ',', ';', ':', ' ');
        return text.Length == 0 ? text : char.ToLowerInvariant(text[0]) + text[1..];
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
        // The slot's first token is predicted at the prefix's last position (the start token counts one): from there to the end.
        var picks = new List<(long, long, long)>();
        var starts = filled.SelectMany(f => f.Select(s => s.Prefix.Length)).ToArray();
        for (int s = 0; s < sequences.Count; s++)
            for (int t = starts[s]; t < sequences[s].Length - 1; t++) picks.Add((s, t, sequences[s][t + 1]));
        var (ids, _) = Batch(sequences);
        var tokenLogp = TokenBatch.TokenLogProbabilities(model, model.Forward(ids), picks);   // only the scored positions
        var owners = torch.tensor(picks.Select(p => p.Item1).ToArray(), device: ids.device);
        return torch.zeros(sequences.Count, tokenLogp.dtype, ids.device).index_add(0, owners, tokenLogp, 1)
            .view(filled.Count, filled[0].Count);
    }

    (Tensor Ids, Tensor Lengths) Batch(IReadOnlyList<int[]> sequences) => TokenBatch.RightPadded(sequences, tokenizer.Pad, model);
}
