using System.Text.RegularExpressions;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Baselines;

/// <summary>A hand-written demonstration for in-context learning: its texts, its label's name, and (for chain of thought) the
/// reasoning that leads to the label.</summary>
public sealed record Demonstration
{
    public List<string> Text { get; init; } = [];
    public string Label { get; init; } = "";
    public string? Rationale { get; init; }
}

/// <summary>
/// Chain-of-thought prompting (Wei et al. 2022): demonstrations show a rationale before their answer (<c>{rationale}</c> in the
/// template, before <c>{label}</c>); for a query the model writes its own rationale and answer, generated greedily after the
/// question, and the answer is read from the text with a pattern (default <c>the answer is (\w+)</c>, case-insensitive) and
/// matched to the label words. Text without a match, or a word that is no label, is an invalid answer.
/// </summary>
public sealed class ChainOfThought(string template, IReadOnlyList<string> words, Regex answer)
{
    public const string DefaultTemplate = "Q: {0}\nA: {rationale} So the answer is {label}.";
    public const string DefaultPattern = @"the answer is (\w+)";

    /// <summary>Checks the template and the pattern; errors name their field.</summary>
    public static ChainOfThought Create(string template, IReadOnlyList<string> words, string pattern, string section)
    {
        int rationale = template.IndexOf("{rationale}", StringComparison.Ordinal);
        if (rationale < 0 || rationale > template.IndexOf("{label}", StringComparison.Ordinal))
            throw new OptionsException($"{section}.template: chain of thought needs {{rationale}} before {{label}}");
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
        catch (ArgumentException e) { throw new OptionsException($"{section}.answer_pattern: not a regular expression ({e.Message})"); }
        if (regex.GetGroupNumbers().Length < 2)
            throw new OptionsException($"{section}.answer_pattern: needs a group around the answer, e.g. {DefaultPattern}");
        var reasoning = new ChainOfThought(template, words, regex);
        // Every label must be readable from the template's own wording (the default pattern reads one word: not "Sci/Tech").
        for (int i = 0; i < words.Count; i++)
        {
            var sample = reasoning.Demonstration(["…", "…"], "…", words[i]);
            if (reasoning.Extract(sample) != i)
                throw new OptionsException($"{section}.answer_pattern: the label word '{words[i]}' cannot be read back from " +
                    $"\"{sample.Replace("\n", "\\n")}\"; change answer_pattern or the verbalizer");
        }
        return reasoning;
    }

    /// <summary>A demonstration written out whole: texts, rationale, label word.</summary>
    public string Demonstration(IReadOnlyList<string> texts, string rationale, string word) =>
        PromptSlots.Fill(template, texts).Replace("{rationale}", rationale).Replace("{label}", word);

    /// <summary>The query up to where the model starts its rationale.</summary>
    public string Query(IReadOnlyList<string> texts)
    {
        var filled = PromptSlots.Fill(template, texts);
        return filled[..filled.IndexOf("{rationale}", StringComparison.Ordinal)].TrimEnd();
    }

    /// <summary>The label the generated text answers with, or -1: the pattern's first match, its group compared to the words
    /// (case-insensitive). The text is cut at the first blank line, where a demonstration would end.</summary>
    public int Extract(string generated)
    {
        int end = generated.IndexOf("\n\n", StringComparison.Ordinal);
        var match = answer.Match(end >= 0 ? generated[..end] : generated);
        if (!match.Success) return -1;
        var said = match.Groups[1].Value.Trim();
        for (int i = 0; i < words.Count; i++) if (string.Equals(words[i], said, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
