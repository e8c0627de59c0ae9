using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Tasks;

/// <summary>Sentiment and topic classification of one text: accuracy and macro-F1.</summary>
public sealed class ClassificationTask : TaskPluginBase
{
    public override PluginManifest Manifest { get; } = new("classification", PluginKind.Task, "1.0.0",
        "One text, one of N labels (SST-2, AG News); accuracy, macro-F1.");
    protected override InputFormat Format => InputFormat.Single;
    protected override string PrimaryMetric(bool regression) => "accuracy";
    protected override IReadOnlyDictionary<string, string> DefaultColumns { get; } =
        new Dictionary<string, string> { ["text"] = "text", ["label"] = "label" };
}

/// <summary>Natural language inference: premise and hypothesis, 2 classes (RTE) or 3 (SNLI, MNLI, CB); accuracy.</summary>
public sealed class NliTask : TaskPluginBase
{
    public override PluginManifest Manifest { get; } = new("nli", PluginKind.Task, "1.0.0",
        "Premise + hypothesis → entailment / (neutral) / contradiction; accuracy.");
    protected override InputFormat Format => InputFormat.Pair;
    protected override string PrimaryMetric(bool regression) => "accuracy";
    protected override IReadOnlyDictionary<string, string> DefaultColumns { get; } =
        new Dictionary<string, string> { ["text_a"] = "premise", ["text_b"] = "hypothesis", ["label"] = "label" };
}

/// <summary>Sentence similarity: both input orders, representations summed (GPT-1); regression (STS-B) or paraphrase classes
/// (MRPC).</summary>
public sealed class SimilarityTask : TaskPluginBase
{
    public override PluginManifest Manifest { get; } = new("similarity", PluginKind.Task, "1.0.0",
        "Two unordered sentences: a score (Pearson, Spearman) or paraphrase classes (accuracy, F1).");
    protected override InputFormat Format => InputFormat.SymmetricPair;
    protected override string PrimaryMetric(bool regression) => regression ? "pearson" : "accuracy";
    protected override IReadOnlyDictionary<string, string> DefaultColumns { get; } =
        new Dictionary<string, string> { ["text_a"] = "sentence1", ["text_b"] = "sentence2", ["label"] = "label" };
}

/// <summary>Multiple choice: context + each option scored separately, softmax across options (COPA, CommonsenseQA); accuracy.</summary>
public sealed class MultipleChoiceTask : TaskPluginBase
{
    public override PluginManifest Manifest { get; } = new("multiple-choice", PluginKind.Task, "1.0.0",
        "A context and N options, one pass per option, softmax across options; accuracy.");
    protected override InputFormat Format => InputFormat.MultipleChoice;
    protected override string PrimaryMetric(bool regression) => "accuracy";
    protected override IReadOnlyDictionary<string, string> DefaultColumns { get; } =
        new Dictionary<string, string> { ["context"] = "context", ["options"] = "options", ["label"] = "label" };
}
