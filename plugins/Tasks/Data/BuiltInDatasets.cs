using PluginGpt.Abstractions;
namespace PluginGpt.Plugins.Tasks.Data;

/// <summary>A shipped data set: files under data/, their columns, labels, and which task family reads it.</summary>
public sealed record BuiltInDataset(
    string Name, string Family, string Train, string? Dev, IReadOnlyDictionary<string, string> TrainColumns,
    IReadOnlyDictionary<string, string>? DevColumns = null, IReadOnlyList<string>? RawLabels = null,
    IReadOnlyList<string>? LabelNames = null, bool HasHeader = true, string? Format = null, double DevFraction = 0.2,
    Func<Row, string>? Context = null, string? Unlabelled = null)
{
    public IReadOnlyDictionary<string, string> ColumnsFor(bool dev) => dev && DevColumns is not null ? DevColumns : TrainColumns;
}

/// <summary>The data sets of data/README.md, by name.</summary>
public static class BuiltInDatasets
{
    static Dictionary<string, string> Cols(params (string Role, string Column)[] c) => c.ToDictionary(x => x.Role, x => x.Column);

    // IMDB: a balanced 5,000-review sample of the official train split and 2,000 of the test split (data/README.md).
    static readonly BuiltInDataset Imdb = new("imdb", "classification", "imdb/train.tsv.gz", "imdb/test.tsv.gz",
        Cols(("text", "text"), ("label", "label")), RawLabels: ["0", "1"], LabelNames: ["negative", "positive"],
        Unlabelled: "imdb/unsup.txt.gz");

    public static readonly IReadOnlyDictionary<string, BuiltInDataset> All = new[]
    {
        new BuiltInDataset("sst2", "classification", "sst2/train.tsv", "sst2/dev.tsv", Cols(("text", "sentence"), ("label", "label")),
            Cols(("text", "content"), ("label", "label")), ["0", "1"], ["negative", "positive"]),
        Imdb,
        // IMDB with the whole official train split (25,000 reviews) and the same 2,000 test reviews.
        Imdb with { Name = "imdb-all", Train = "imdb/train-all.tsv.gz" },
        new BuiltInDataset("agnews", "classification", "agnews/test.csv", null, Cols(("text", "1,2"), ("label", "0")),
            RawLabels: ["1", "2", "3", "4"], LabelNames: ["World", "Sports", "Business", "Sci/Tech"], HasHeader: false, DevFraction: 0.1),
        new BuiltInDataset("rte", "nli", "rte/train.tsv", "rte/dev.tsv",
            Cols(("text_a", "sentence1"), ("text_b", "sentence2"), ("label", "label")),
            RawLabels: ["0", "1"], LabelNames: ["entailment", "not_entailment"]),
        new BuiltInDataset("snli", "nli", "snli/dev.tsv", null, Cols(("text_a", "premise"), ("text_b", "hypothesis"), ("label", "label")),
            RawLabels: ["entailment", "neutral", "contradiction"]),
        new BuiltInDataset("cb", "nli", "fewglue/CB/train.jsonl", "cb/val.jsonl",
            Cols(("text_a", "premise"), ("text_b", "hypothesis"), ("label", "label")),
            RawLabels: ["entailment", "contradiction", "neutral"]),
        new BuiltInDataset("stsb", "similarity", "stsb/train.tsv", "stsb/dev.tsv",
            Cols(("text_a", "sentence1"), ("text_b", "sentence2"), ("target", "score"))),
        // COPA: the question (cause/effect) becomes a connective, as GPT-style scoring of "premise because/so option".
        new BuiltInDataset("copa", "multiple-choice", "copa/copa-dev-500.jsonl", null,
            Cols(("options", "choice1,choice2"), ("label", "label")),
            DevFraction: 0.2, Context: r => r.Text("premise").TrimEnd('.') + (r.Text("question") == "cause" ? " because" : " so"),
            Unlabelled: "fewglue/COPA/unlabeled.jsonl"),
        new BuiltInDataset("csqa", "multiple-choice", "csqa/dev_rand_split.jsonl", null,
            Cols(("context", "question"), ("options", "choices.text"), ("label", "answerKey"), ("option_labels", "choices.label")),
            DevFraction: 0.2),
    }.ToDictionary(d => d.Name);

    public static BuiltInDataset Get(string name, string family)
    {
        if (!All.TryGetValue(name, out var d))
            throw new OptionsException($"task.dataset: unknown dataset '{name}'; built-in: {string.Join(", ", All.Keys)}");
        if (d.Family != family)
            throw new OptionsException($"task.dataset: '{name}' is a {d.Family} dataset, not {family}; " +
                $"use \"task\": {{\"name\": \"{d.Family}\"}}");
        return d;
    }
}
