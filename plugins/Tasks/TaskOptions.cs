using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Tasks;

/// <summary>The options every shipped task family reads from the experiment's <c>task</c> object (snake_case in JSON).</summary>
public sealed record TaskOptions
{
    /// <summary>Built-in name (<c>sst2</c>, <c>agnews</c>, <c>rte</c>, <c>snli</c>, <c>cb</c>, <c>stsb</c>, <c>copa</c>, <c>csqa</c>) or
    /// null for files of your own.</summary>
    public string? Dataset { get; init; }
    public string? Train { get; init; }
    public string? Dev { get; init; }
    /// <summary><c>tsv</c>, <c>csv</c> or <c>jsonl</c>; null guesses from the extension.</summary>
    public string? Format { get; init; }
    public bool HasHeader { get; init; } = true;
    /// <summary>Role → column name (or 0-based index for files without header): <c>text</c>, <c>text_a</c>, <c>text_b</c>, <c>label</c>,
    /// <c>context</c>, <c>options</c>…</summary>
    public Dictionary<string, string>? Columns { get; init; }
    /// <summary>Label names in index order; a row with another label is an error naming file, line and value.</summary>
    public List<string>? Labels { get; init; }
    /// <summary>Use at most this many training / dev rows (first rows after a seeded shuffle); 0 = all.</summary>
    public int MaxTrain { get; init; }
    public int MaxDev { get; init; }
    /// <summary>With <c>max_train</c>: draw the same number of rows of every label (few-shot sets), instead of a plain sample.</summary>
    public bool BalanceTrain { get; init; }
    /// <summary>An unlabelled pool for semi-supervised recipes (PET): up to this many training rows not drawn into the training
    /// set, labels dropped; 0 = none.</summary>
    public int MaxUnlabelled { get; init; }
    /// <summary>The pool's own file of rows without labels (PET's unlabelled set: IMDB's <c>unsup.txt</c>, FewGLUE's
    /// <c>unlabeled.jsonl</c>): <c>.txt</c> holds one text per line, other formats the task's columns; any label is ignored.
    /// Built-in datasets that have one use it; without it the pool is training rows not drawn into the training set.</summary>
    public string? Unlabelled { get; init; }

    /// <summary>Binds and checks the task object's options; a field that would be silently ignored is refused.</summary>
    public static TaskOptions From(TaskContext context)
    {
        var o = PluginOptions.Bind<TaskOptions>(context.Options, "task");
        PluginOptions.Require(o.MaxTrain >= 0, "task", "max_train", $"must be ≥ 0, got {o.MaxTrain}");
        PluginOptions.Require(o.MaxDev >= 0, "task", "max_dev", $"must be ≥ 0, got {o.MaxDev}");
        PluginOptions.Require(o.MaxUnlabelled >= 0, "task", "max_unlabelled", $"must be ≥ 0, got {o.MaxUnlabelled}");
        PluginOptions.Require(!o.BalanceTrain || o.MaxTrain > 0, "task", "balance_train", "needs max_train (how many rows to draw)");
        if (o.Dataset is not null)
            foreach (var (given, field) in new[] { (o.Train, "train"), (o.Dev, "dev"), (o.Format, "format"), (o.Unlabelled, "unlabelled") }
                         .Where(f => f.Item1 is not null)
                         .Concat(o.Columns is null ? [] : [("", "columns")]).Concat(o.Labels is null ? [] : [("", "labels")]))
                throw new OptionsException($"task.{field}: not used with the built-in dataset '{o.Dataset}' " +
                    "(its files, columns and labels are fixed); remove it or drop \"dataset\"");
        return o;
    }
}
