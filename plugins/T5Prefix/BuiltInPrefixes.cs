using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>
/// T5's input formats for the shipped data sets (Raffel et al. 2020, appendix D): SST-2 and STS-B keep their GLUE prefixes;
/// RTE, SNLI and CB all use the MNLI format (hypothesis first), so one NLI input serves the three in a mixture (T5 itself
/// writes RTE as <c>rte sentence1: … sentence2: …</c>; a template option restores that); COPA and CommonsenseQA list their
/// options; AG News gets <c>topic:</c>. Targets are the label names (<c>not_entailment</c> as T5 writes it), the option's text,
/// or the score.
/// </summary>
public static class BuiltInPrefixes
{
    const string Mnli = "mnli hypothesis: {text_b} premise: {text_a}";
    const string Choice = "question: {context} options: {options}";

    static readonly IReadOnlyDictionary<string, string> Templates = new Dictionary<string, string>
    {
        ["sst2"] = "sst2 sentence: {text_a}",
        ["agnews"] = "topic: {text_a}",
        ["rte"] = Mnli,
        ["snli"] = Mnli,
        ["cb"] = Mnli,
        ["stsb"] = "stsb sentence1: {text_a} sentence2: {text_b}",
        ["copa"] = Choice,
        ["csqa"] = Choice,
    };

    /// <summary>The shipped data set's template, else one built from the data set's name and the task's format.</summary>
    public static string For(TaskData task) => Templates.TryGetValue(task.Name, out var t) ? t : task.Format switch
    {
        InputFormat.Single => $"{task.Name} sentence: {{text_a}}",
        InputFormat.Pair => $"{task.Name} premise: {{text_a}} hypothesis: {{text_b}}",
        InputFormat.SymmetricPair => $"{task.Name} sentence1: {{text_a}} sentence2: {{text_b}}",
        _ => Choice,
    };
}
