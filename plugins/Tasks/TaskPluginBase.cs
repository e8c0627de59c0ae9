using PluginGpt.Abstractions;
using PluginGpt.Plugins.Tasks.Data;

namespace PluginGpt.Plugins.Tasks;

/// <summary>What the four task families share: reading built-in or explicit files into train/dev examples.</summary>
public abstract class TaskPluginBase : ITaskPlugin
{
    public abstract PluginManifest Manifest { get; }
    protected abstract InputFormat Format { get; }
    protected abstract string PrimaryMetric(bool regression);
    /// <summary>Column roles assumed when a file names its columns conventionally.</summary>
    protected abstract IReadOnlyDictionary<string, string> DefaultColumns { get; }

    public TaskData Load(TaskContext context)
    {
        var options = TaskOptions.From(context);
        var family = Manifest.Name;
        BuiltInDataset dataset = options.Dataset is { } name
            ? BuiltInDatasets.Get(name, family)
            : new BuiltInDataset("custom", family,
                options.Train ?? throw new OptionsException("task.train: a training file is needed when no built-in dataset is named"),
                options.Dev, options.Columns is { Count: > 0 } columns ? columns : DefaultColumns, RawLabels: options.Labels,
                HasHeader: options.HasHeader, Format: options.Format, Unlabelled: options.Unlabelled);
        string Resolve(string file) => options.Dataset is null ? file : Path.Combine(context.DataRoot, file);

        var trainRows = TableReader.Read(Resolve(dataset.Train), dataset.Format, dataset.HasHeader);
        // Checked here, before labels are inferred from it: an empty file would otherwise surface as the dev file's "unknown label".
        if (trainRows.Count == 0) throw new DataException($"{Resolve(dataset.Train)}: holds no rows (task.train)");
        bool regression = Format == InputFormat.SymmetricPair && dataset.TrainColumns.ContainsKey("target");
        // Labels come from the whole training file, before any split: a row's class never depends on which side it falls.
        var rawLabels = regression || Format == InputFormat.MultipleChoice ? null
            : dataset.RawLabels ?? InferLabels(trainRows, dataset.TrainColumns.GetValueOrDefault("label") ?? "label");
        var labelNames = dataset.LabelNames ?? rawLabels ?? [];
        IReadOnlyList<Row> devRows;
        if (dataset.Dev is null)
        {
            // A fixed split (seed independent of the experiment's) so every run is scored on the same rows.
            var shuffled = Shuffle(trainRows, 20201);
            int devCount = (int)Math.Round(shuffled.Count * dataset.DevFraction);
            devRows = shuffled[..devCount];
            trainRows = shuffled[devCount..];
        }
        else devRows = TableReader.Read(Resolve(dataset.Dev), dataset.Format, dataset.HasHeader);
        // An empty dev file is named here; a dev set held out of too few rows is refused by the run before training.
        if (devRows.Count == 0 && dataset.Dev is not null) throw new DataException($"{Resolve(dataset.Dev)}: holds no rows (task.dev)");


        Example Build(Row r, bool dev) => ExampleBuilder.Build(r, Format, dataset.ColumnsFor(dev), rawLabels, regression, dataset.Context);
        var drawn = options.BalanceTrain ? Balanced(trainRows, options.MaxTrain, context.Seed, r => Build(r, false).Label)
            : Take(trainRows, options.MaxTrain, context.Seed);
        var train = drawn.Select(r => Build(r, false)).ToList();
        var dev = Take(devRows, options.MaxDev, 7)
            .Select(r => ExampleBuilder.Build(r, Format, dataset.ColumnsFor(true), rawLabels, regression, dataset.Context)).ToList();
        // The pool: the rows of its own file, else training rows not drawn into the training set; in a seeded order, no labels.
        var taken = drawn.ToHashSet();
        List<Example> unlabelled = dataset.Unlabelled is { } poolFile && (options.MaxUnlabelled > 0 || options.Dataset is null)
            ? [.. Shuffle([.. UnlabelledRows(Resolve(poolFile), dataset)], context.Seed + 1)
                .Take(options.MaxUnlabelled == 0 ? int.MaxValue : options.MaxUnlabelled)
                .Select(r => ExampleBuilder.BuildUnlabelled(r, Format, dataset.TrainColumns, dataset.Context))]
            : [.. Shuffle(trainRows.Where(r => !taken.Contains(r)).ToList(), context.Seed + 1).Take(options.MaxUnlabelled)
                .Select(r => Build(r, false) with { Label = -1, Target = double.NaN })];
        // A pool file may share rows with the dev set (FewGLUE's COPA pool and the COPA split here): those never enter the pool.
        var devInputs = dev.Select(InputKey).ToHashSet();
        unlabelled.RemoveAll(e => devInputs.Contains(InputKey(e)));
        return new TaskData(options.Dataset ?? Path.GetFileNameWithoutExtension(dataset.Train), Format, regression ? [] : labelNames,
            train, dev, PrimaryMetric(regression), unlabelled);
    }

    public IReadOnlyDictionary<string, double> Score(IReadOnlyList<Prediction> predictions, IReadOnlyList<Example> gold)
    {
        if (predictions.Count != gold.Count) throw new ArgumentException($"{predictions.Count} predictions for {gold.Count} examples");
        if (gold.Count > 0 && !double.IsNaN(gold[0].Target))
        {
            var predicted = predictions.Select(p => p.Score).ToList();
            var targets = gold.Select(g => g.Target).ToList();
            return new Dictionary<string, double>
            {
                ["pearson"] = Metrics.Pearson(predicted, targets),
                ["spearman"] = Metrics.Spearman(predicted, targets),
            };
        }
        var p = predictions.Select(x => x.Label).ToList();
        var g = gold.Select(x => x.Label).ToList();
        var scores = new Dictionary<string, double> { ["accuracy"] = Metrics.Accuracy(p, g) };
        if (Format != InputFormat.MultipleChoice)
        {
            int classes = Math.Max(p.DefaultIfEmpty(0).Max(), g.DefaultIfEmpty(0).Max()) + 1;
            scores["macro_f1"] = Metrics.MacroF1(p, g, classes);
            if (classes == 2) scores["f1"] = Metrics.F1(p, g, 1);
        }
        return scores;
    }

    /// <summary>The distinct label values of the training file, sorted; an empty one is a broken row, not a class.</summary>
    static List<string> InferLabels(IReadOnlyList<Row> rows, string column)
    {
        foreach (var row in rows)
            if (string.IsNullOrWhiteSpace(row.Text(column))) throw row.Error(column, $"empty label in column '{column}'");
        return rows.Select(r => r.Text(column).Trim()).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    static string InputKey(Example e) => string.Join("\u0001", e.Segments);

    /// <summary>The pool file's rows: a text file gives one row per non-empty line (as the text column), a table its rows.</summary>
    IEnumerable<Row> UnlabelledRows(string path, BuiltInDataset dataset)
    {
        if (DataFiles.Extension(path) != ".txt")
            return TableReader.Read(path, dataset.Format, dataset.HasHeader);
        if (Format != InputFormat.Single)
            throw new OptionsException($"task.unlabelled: {path}: a text file (one text per line) fits single-text tasks only; " +
                "give a TSV or JSONL with the task's columns");
        var column = dataset.TrainColumns.GetValueOrDefault("text") ?? "text";
        return TableReader.ReadLines(path).Select(l => new Row(path, l.Line, new Dictionary<string, object?> { [column] = l.Text }));
    }

    static List<Row> Shuffle(IReadOnlyList<Row> rows, int seed)
    {
        var list = rows.ToList();
        var rng = new Random(seed);
        for (int i = list.Count - 1; i > 0; i--) { int j = rng.Next(i + 1); (list[i], list[j]) = (list[j], list[i]); }
        return list;
    }

    static IReadOnlyList<Row> Take(IReadOnlyList<Row> rows, int max, int seed) =>
        max <= 0 || max >= rows.Count ? rows : Shuffle(rows, seed)[..max];

    /// <summary>
    /// <paramref name="max"/> rows with every label equally often (the remainder to the first labels), in a seeded order.
    /// </summary>
    static IReadOnlyList<Row> Balanced(IReadOnlyList<Row> rows, int max, int seed, Func<Row, int> label)
    {
        var byLabel = Shuffle(rows, seed).GroupBy(label).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
        var picked = new List<Row>();
        for (int round = 0; picked.Count < max && byLabel.Any(g => g.Count > round); round++)
            foreach (var group in byLabel.Where(g => g.Count > round))
                if (picked.Count < max) picked.Add(group[round]);
        return Shuffle(picked, seed);
    }
}
