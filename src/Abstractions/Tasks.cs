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
/// multiple choice); <paramref name="Label"/> is a class index (or the right option), <paramref name="Target"/> a regression target.
/// </summary>
public sealed record Example(IReadOnlyList<string> Segments, int Label = -1, double Target = double.NaN, IReadOnlyList<string>? Options = null);

/// <summary>A loaded task: its examples, label names (empty for regression) and the metric that picks the best epoch.</summary>
public sealed record TaskData(string Name, InputFormat Format, IReadOnlyList<string> Labels, IReadOnlyList<Example> Train,
    IReadOnlyList<Example> Dev, string PrimaryMetric, IReadOnlyList<string>? Unlabelled = null)
{
    public bool IsRegression => Labels.Count == 0 && Format != InputFormat.MultipleChoice;
    /// <summary>Output units of a head: classes, 1 for regression, 1 score per option for multiple choice.</summary>
    public int OutputSize => Format == InputFormat.MultipleChoice || IsRegression ? 1 : Labels.Count;
}

/// <summary>A model's answer for one example: the chosen class/option (or -1 for regression), a score, and the distribution.</summary>
public sealed record Prediction(int Label, double Score, IReadOnlyList<double> Probabilities);

/// <summary>Where a task's data comes from. A built-in <see cref="Dataset"/> name needs nothing else.</summary>
public sealed record DataOptions
{
    /// <summary>Built-in name (<c>sst2</c>, <c>agnews</c>, <c>rte</c>, <c>snli</c>, <c>cb</c>, <c>stsb</c>, <c>copa</c>, <c>csqa</c>) or null for explicit files.</summary>
    public string? Dataset { get; init; }
    public string? Train { get; init; }
    public string? Dev { get; init; }
    /// <summary><c>tsv</c>, <c>csv</c> or <c>jsonl</c>; null guesses from the extension.</summary>
    public string? Format { get; init; }
    public bool HasHeader { get; init; } = true;
    /// <summary>Role → column name (or 0-based index for files without header): <c>text</c>, <c>premise</c>, <c>hypothesis</c>, <c>sentence1</c>, <c>sentence2</c>, <c>label</c>, <c>context</c>, <c>options</c>…</summary>
    public IReadOnlyDictionary<string, string> Columns { get; init; } = new Dictionary<string, string>();
    /// <summary>Label names in index order; a row with another label is an error naming file, line and value.</summary>
    public IReadOnlyList<string>? Labels { get; init; }
    /// <summary>Use at most this many training / dev rows (first rows after a seeded shuffle); 0 = all.</summary>
    public int MaxTrain { get; init; }
    public int MaxDev { get; init; }
    /// <summary>The folder built-in dataset names resolve against (the repository's <c>data/</c>).</summary>
    public string DataRoot { get; init; } = "data";
    public int Seed { get; init; } = 42;
}

/// <summary>A task family: reads data, defines labels and metrics.</summary>
public interface ITaskPlugin : IPlugin
{
    TaskData Load(DataOptions options);
    /// <summary>Metric name → value (e.g. accuracy, macro_f1, pearson, spearman).</summary>
    IReadOnlyDictionary<string, double> Score(IReadOnlyList<Prediction> predictions, IReadOnlyList<Example> gold);
}
