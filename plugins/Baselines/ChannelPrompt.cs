using PluginGpt.Abstractions;
using TorchSharp;

namespace PluginGpt.Plugins.Baselines;

/// <summary>
/// In-context learning in the noisy-channel direction (Min et al. 2022, <i>Noisy Channel Language Model Prompting for Few-Shot
/// Text Classification</i>): the template puts the label word before the text, every demonstration is written that way, and a
/// class l scores log P(text | demonstrations, l) — the likelihood of the query's part after its label word — instead of
/// P(l | text). A small LM that leans to one label word whatever the input still has to explain every token of the text under
/// each label, which is why the channel direction is steadier than the direct one for small models (the paper's finding).
/// </summary>
sealed class ChannelPrompt
{
    readonly ObjectiveContext context;
    readonly IReadOnlyList<string> words;
    /// <summary>The template's text before and after its <c>{label}</c> slot.</summary>
    readonly string before, after;
    /// <summary>The demonstrations, each written label first, as every query's prompt starts (built once per run).</summary>
    readonly string shown;

    public ChannelPrompt(ObjectiveContext context, string template, IReadOnlyList<string> words, IReadOnlyList<Example> demonstrations,
        Func<Example, string> answer)
    {
        this.context = context;
        this.words = words;
        int slot = template.IndexOf("{label}", StringComparison.Ordinal);
        (before, after) = (template[..slot], template[(slot + "{label}".Length)..]);
        shown = string.Concat(demonstrations.Select(d => PromptSlots.Fill(before + answer(d) + after, d.Segments) + "\n\n"));
    }

    /// <summary>A default channel template per input format: the label word first, then the texts.</summary>
    public static string DefaultTemplate(InputFormat format) =>
        format == InputFormat.Single ? "Answer: {label}\n{0}" : "Answer: {label}\n{0}\nQuestion: {1}?";

    /// <summary>Checks that the template scores text: something with a text slot must follow <c>{label}</c>.</summary>
    public static void Check(string template, InputFormat format)
    {
        PluginOptions.Require(format != InputFormat.MultipleChoice, "objective.options", "channel",
            "scores a text under each label word; a multiple-choice task has options, not labels");
        int slot = template.IndexOf("{label}", StringComparison.Ordinal);
        PluginOptions.Require(slot >= 0 && template.IndexOf("{0}", slot, StringComparison.Ordinal) > slot, "objective.options", "template",
            "with channel, {label} comes before the text {0} (the model scores the text given the label)");
    }

    /// <summary>Log-probabilities over the labels (renormalised) of <paramref name="query"/>, given the demonstrations.</summary>
    public double[] LabelLogProbabilities(Example query)
    {
        var text = context.Tokenizer.Encode(PromptSlots.Fill(after, query.Segments).TrimEnd());
        var bos = context.Tokenizer.BeginningOfSequence;
        int room = context.Model.UsableContext - (bos is null ? 0 : 1);
        if (text.Length > room / 2) text = text[..(room / 2)];   // a long query keeps its start and leaves room for the label
        var scores = words.Select(word =>
        {
            var head = context.Tokenizer.EncodeStart(shown + PromptSlots.Fill(before + word, query.Segments));
            head = head.Length + text.Length <= room ? head : head[^(room - text.Length)..];   // demonstrations trimmed from the front
            return Continuation.LogProbability(context, bos is { } start ? [start, .. head] : head, text);
        }).ToArray();
        return torch.tensor(scores).log_softmax(0).data<double>().ToArray();
    }
}
