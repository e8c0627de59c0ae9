using System.Text.RegularExpressions;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// A cloze pattern (PET's "P"): text with the example's inputs <c>{text_a}</c>, <c>{text_b}</c> (or <c>{text_a_nopunct}</c>,
/// <c>{text_b_nopunct}</c>: without final punctuation, as PET's NLI patterns use) and exactly one <c>{answer}</c>, the slot
/// the model fills with a label's word. A space before a placeholder belongs to the placeholder's tokens (" great"), as
/// GPT-2's byte-level BPE encodes words.
/// </summary>
public sealed partial class Pattern
{
    /// <summary>One piece of a pattern: literal text, an input segment, or the answer slot.</summary>
    sealed record Part(string Literal, int Segment, bool StripPunctuation, bool Answer, bool Space);

    readonly IReadOnlyList<Part> parts;

    public string Template { get; }
    /// <summary>Whether nothing follows the answer: the slot is then the next token after the prefix (one pass for all labels).</summary>
    public bool AnswerEnds => parts[^1].Answer;

    [GeneratedRegex(@"\{([a-z_]+)\}")]
    private static partial Regex Placeholder();

    Pattern(string template, IReadOnlyList<Part> parts)
    {
        Template = template;
        this.parts = parts;
    }

    /// <summary>Parses <paramref name="template"/>; an unknown placeholder, a missing or repeated answer, or a second text on a
    /// one-text task is an error naming <paramref name="field"/>.</summary>
    public static Pattern Parse(string template, string field, int segments)
    {
        var parts = new List<Part>();
        int at = 0, answers = 0;
        foreach (Match m in Placeholder().Matches(template))
        {
            var literal = template[at..m.Index];
            bool space = literal.EndsWith(' ');
            if (literal.TrimEnd(' ').Length > 0) parts.Add(new Part(literal.TrimEnd(' '), -1, false, false, false));
            var name = m.Groups[1].Value;
            bool strip = name.EndsWith("_nopunct");
            int segment = name.Replace("_nopunct", "") switch
            {
                "text_a" => 0,
                "text_b" => 1,
                "answer" when !strip => -1,
                _ => throw new OptionsException($"{field}: unknown placeholder {{{name}}} in \"{template}\"; " +
                    "use {text_a}, {text_b}, {text_a_nopunct}, {text_b_nopunct} and one {answer}"),
            };
            if (segment >= segments)
                throw new OptionsException($"{field}: \"{template}\" uses {{{name}}}, but this task's examples have {segments} text(s)");
            if (segment < 0) answers++;
            parts.Add(new Part("", segment, strip, segment < 0, space && (parts.Count > 0 || literal.Length > 0)));
            at = m.Index + m.Length;
        }
        if (at < template.Length) parts.Add(new Part(template[at..], -1, false, false, false));
        // One text may be left out (a hypothesis-only baseline on NLI), all of them not: every example would score alike.
        if (segments > 0 && !parts.Any(p => p.Segment >= 0))
            throw new OptionsException($"{field}: \"{template}\" uses none of the example's texts ({{text_a}}" +
                (segments > 1 ? " or {text_b})" : ")") + "; such a pattern scores every example alike");
        if (answers != 1)
            throw new OptionsException(
                $"{field}: \"{template}\" must hold exactly one {{answer}} (the slot the model fills), it holds {answers}");
        return new Pattern(template, parts);
    }

    /// <summary>
    /// The filled pattern's tokens for one example, split at the answer slot: (before the slot, the slot, after it). The
    /// inputs are shortened from their ends, longest first, until the whole fits <paramref name="room"/> tokens with the
    /// longest of <paramref name="answers"/>; one filling per answer, so every label is scored on the same context.
    /// </summary>
    public IReadOnlyList<(int[] Prefix, int[] Answer, int[] Suffix)> Encode(ITokenizer tokenizer, Example example,
        IReadOnlyList<string> answers, int room)
    {
        // The pattern's first part starts the sequence (SentencePiece's dummy prefix); the others continue it literally.
        int[] EncodePart(int index, string text) => index == 0 ? tokenizer.EncodeStart(text) : tokenizer.Encode(text);
        var encoded = parts.Select((p, i) => p.Answer ? [] : EncodePart(i, (p.Space ? " " : "") + Text(p, example))).ToList();
        int answerSlot = parts.ToList().FindIndex(p => p.Answer);
        bool space = parts[answerSlot].Space;
        var answerTokens = answers.Select(a => EncodePart(answerSlot, (space ? " " : "") + a)).ToList();
        int total = encoded.Sum(t => t.Length) + answerTokens.Max(t => t.Length);
        while (total > room)
        {
            var longest = Enumerable.Range(0, parts.Count).Where(i => parts[i].Segment >= 0 && encoded[i].Length > 0)
                .OrderByDescending(i => encoded[i].Length).FirstOrDefault(-1);
            if (longest < 0)
                throw new OptionsException($"objective.options: pattern \"{Template}\" leaves no room for the text in {room} tokens");
            int cut = Math.Min(total - room, encoded[longest].Length);
            encoded[longest] = encoded[longest][..^cut];
            total -= cut;
        }
        var prefix = encoded.Take(answerSlot).SelectMany(t => t).ToArray();
        var suffix = encoded.Skip(answerSlot + 1).SelectMany(t => t).ToArray();
        return answerTokens.Select(a => (prefix, a, suffix)).ToList();
    }

    static string Text(Part p, Example e)
    {
        if (p.Segment < 0) return p.Literal;
        var text = e.Segments[p.Segment].Trim();
        return p.StripPunctuation ? text.TrimEnd('.', '!', '?', ',', ';', ':', ' ') : text;
    }
}
