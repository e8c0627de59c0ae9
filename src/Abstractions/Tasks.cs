namespace PluginGpt.Abstractions;

/// <summary>How a task's examples are laid out; objectives turn each into tokens their own way.</summary>
public enum InputFormat
{
    /// <summary>One text (sentiment, topic).</summary>
    Single,
    /// <summary>Two ordered texts (NLI: premise, hypothesis).</summary>
    Pair,
    /// <summary>Two texts without order (similarity): scored in both orders and summed.</summary>
    SymmetricPair,
    /// <summary>A context and several options, one scored pass per option, softmax across options.</summary>
    MultipleChoice,
}

/// <summary>
/// One labelled example. <paramref name="Segments"/> are the texts (1 for Single, 2 for pairs, the context for
/// multiple choice); <paramref name="Label"/> is a class index (or the right option), <paramref name="Target"/> a regression target;
/// <paramref name="Soft"/> a target distribution over the labels (a teacher's soft labels for distillation), used instead of
/// <paramref name="Label"/> by objectives that support it.
/// </summary>
/// <param name="Segments">the example's texts.</param>
/// <param name="Label">the class index or right option; -1 when there is none (regression, unlabelled).</param>
/// <param name="Target">the regression target; NaN for classification.</param>
/// <param name="Options">the candidate answers of a multiple-choice example; null otherwise.</param>
/// <param name="Soft">a distribution over the labels to train towards; null for hard labels.</param>
public sealed record Example(IReadOnlyList<string> Segments, int Label = -1, double Target = double.NaN,
    IReadOnlyList<string>? Options = null, IReadOnlyList<double>? Soft = null);

/// <summary>A loaded task: its examples, label names (empty for regression) and the metric that picks the best epoch;
/// <paramref name="Unlabelled"/> is a pool of the task's inputs without labels (semi-supervised recipes such as PET), when
/// the task was asked for one.</summary>
/// <param name="Name">the data set's name (<c>sst2</c>), what metrics and folders of a multi-task run are keyed by.</param>
/// <param name="Format">how each example's segments are laid out.</param>
/// <param name="Labels">the class names, in label-index order; empty for regression and multiple choice.</param>
/// <param name="Train">the training examples.</param>
/// <param name="Dev">the examples every epoch is scored on.</param>
/// <param name="PrimaryMetric">the metric that picks the best epoch (<c>accuracy</c>, <c>pearson</c>).</param>
/// <param name="Unlabelled">inputs without labels, when asked for; null otherwise.</param>
public sealed record TaskData(string Name, InputFormat Format, IReadOnlyList<string> Labels, IReadOnlyList<Example> Train,
    IReadOnlyList<Example> Dev, string PrimaryMetric, IReadOnlyList<Example>? Unlabelled = null)
{
    /// <summary>No labels and not multiple choice: examples carry a <see cref="Example.Target"/> number.</summary>
    public bool IsRegression => Labels.Count == 0 && Format != InputFormat.MultipleChoice;
    /// <summary>Output units of a head: classes, 1 for regression, 1 score per option for multiple choice.</summary>
    public int OutputSize => Format == InputFormat.MultipleChoice || IsRegression ? 1 : Labels.Count;
}

/// <summary>A model's answer for one example: the chosen class/option (or -1 for regression), a score, and the distribution.
/// <paramref name="Invalid"/> marks an answer outside the label set (free generation that produced no label): it counts as wrong
/// (label -1) and the host reports the share of such answers as <c>invalid_rate</c>.</summary>
/// <param name="Label">the chosen class or option; -1 for regression or an invalid answer.</param>
/// <param name="Score">the regression value, or the chosen answer's probability.</param>
/// <param name="Probabilities">one probability per label or option; empty for regression.</param>
/// <param name="Invalid">whether the answer fell outside the label set.</param>
public sealed record Prediction(int Label, double Score, IReadOnlyList<double> Probabilities, bool Invalid = false)
{
    // SDK 2.0's constructor and deconstruction, kept so plugins built against it still load (records have no optional-parameter
    // binary compatibility).
    /// <summary>A valid answer (SDK 2.0's constructor).</summary>
    public Prediction(int label, double score, IReadOnlyList<double> probabilities) : this(label, score, probabilities, false) { }

    /// <summary>Label, score and probabilities (SDK 2.0's deconstruction, without <see cref="Invalid"/>).</summary>
    public void Deconstruct(out int label, out double score, out IReadOnlyList<double> probabilities) =>
        (label, score, probabilities) = (Label, Score, Probabilities);
}

/// <summary>
/// What a task plugin gets to load its data: its options (the experiment's <c>task</c> object without <c>name</c>, bound by
/// the plugin with <see cref="PluginOptions.Bind{T}"/> under the section <c>task</c>), the folder built-in data set names
/// resolve against (the repository's <c>data/</c>), and the experiment's seed.
/// </summary>
/// <param name="Options">the task object's fields other than <c>name</c>.</param>
/// <param name="DataRoot">where built-in data set names resolve.</param>
/// <param name="Seed">the experiment's seed, for sampling and splitting.</param>
public sealed record TaskContext(System.Text.Json.JsonElement Options, string DataRoot, int Seed);

/// <summary>A task family: reads data, defines labels and metrics.</summary>
public interface ITaskPlugin : IPlugin
{
    /// <summary>Reads train and dev examples; a bad option throws <see cref="OptionsException"/>, a bad file or row
    /// <see cref="DataException"/>.</summary>
    TaskData Load(TaskContext context);
    /// <summary>Metric name → value (e.g. accuracy, macro_f1, pearson, spearman).</summary>
    IReadOnlyDictionary<string, double> Score(IReadOnlyList<Prediction> predictions, IReadOnlyList<Example> gold);
}

/// <summary>How a multi-task run names its tasks in metrics (<c>sst2.accuracy</c>) and folders: by data set name, a name given
/// twice numbered from its second use (<c>sst2#2</c>).</summary>
public static class TaskKeys
{
    /// <summary>One key per entry of <paramref name="datasetNames"/>, in order: <c>[sst2, mnli, sst2]</c> →
    /// <c>[sst2, mnli, sst2#2]</c>.</summary>
    public static IReadOnlyList<string> For(IReadOnlyList<string> datasetNames) =>
        [.. datasetNames.Select((name, i) =>
            datasetNames.Take(i).Count(o => o == name) is var before and > 0 ? $"{name}#{before + 1}" : name)];
}
