using System.Text.RegularExpressions;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>
/// A task prefix template (T5's <c>sst2 sentence: {text_a}</c>): <c>{text_a}</c> and <c>{text_b}</c> are the example's texts,
/// <c>{context}</c> a multiple-choice context (the same as <c>{text_a}</c>), <c>{options}</c> its options as
/// <c>(A) … (B) …</c>. Every text the task has must appear, so no input is silently dropped.
/// </summary>
public sealed partial class PrefixTemplate
{
    [GeneratedRegex(@"\{(\w+)\}")]
    private static partial Regex Slot();

    public string Text { get; }

    PrefixTemplate(string text) => Text = text;

    public static PrefixTemplate Parse(string template, InputFormat format, string field)
    {
        var slots = Slot().Matches(template).Select(m => m.Groups[1].Value).ToHashSet();
        var known = format == InputFormat.MultipleChoice ? new[] { "context", "text_a", "options" } : ["text_a", "text_b"];
        foreach (var slot in slots.Where(s => !known.Contains(s)))
            throw new OptionsException(
                $"{field}: unknown slot {{{slot}}}; this task's slots are {string.Join(", ", known.Select(k => "{" + k + "}"))}");
        bool Has(string s) => slots.Contains(s);
        var missing = format switch
        {
            InputFormat.Single => Has("text_a") ? null : "{text_a}",
            InputFormat.MultipleChoice => Has("context") || Has("text_a") ? null : "{context}",
            _ => Has("text_a") && Has("text_b") ? null : "{text_a} and {text_b}",
        };
        if (missing is not null) throw new OptionsException($"{field}: \"{template}\" must contain {missing} (the task's input)");
        return new PrefixTemplate(template);
    }

    /// <summary>The template with the example's texts in place.</summary>
    public string Fill(Example e) => Slot().Replace(Text, m => m.Groups[1].Value switch
    {
        "text_a" or "context" => e.Segments[0],
        "text_b" => e.Segments.Count > 1 ? e.Segments[1] : "",
        "options" => Options(e.Options ?? []),
        _ => m.Value,
    });

    /// <summary><c>(A) first (B) second …</c>, T5's way of listing choices.</summary>
    public static string Options(IReadOnlyList<string> options) =>
        string.Join(" ", options.Select((o, i) => $"({(char)('A' + i % 26)}) {o}"));
}
