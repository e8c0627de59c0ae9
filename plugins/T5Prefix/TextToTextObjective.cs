using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>
/// <c>text-to-text</c> (Raffel et al. 2020, Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer):
/// every task is text in, text out. The input is the task prefix template filled with the example, then the separator; the
/// model learns to write the answer (the label's word, the option's text, the score on a grid) and an end of text, with the LM
/// loss on the answer's tokens alone. It predicts two ways, both reported: <b>constrained</b> (each allowed answer scored by
/// its log-likelihood, the best taken) and <b>free</b> greedy generation (exact match; an answer outside the set is wrong and
/// counted in <c>invalid_rate</c>). No head and no new parameters: it trains whatever the method trains.
/// </summary>
public sealed class TextToTextObjective : IObjective
{
    public PluginManifest Manifest { get; } = new("text-to-text", PluginKind.Objective, "1.0.0",
        "T5-style text-to-text: task prefix in, answer text out; LM loss on the answer; constrained and free decoding.");

    /// <summary>A data set's own template and answers (in <see cref="Options.Tasks"/>).</summary>
    public sealed record TaskTemplate
    {
        public string? Template { get; init; }
        public Dictionary<string, string>? Targets { get; init; }
    }

    public sealed record Options
    {
        /// <summary>The input: <c>{text_a}</c>, <c>{text_b}</c>, <c>{context}</c>, <c>{options}</c>; null takes the data set's built-in
        /// T5 prefix.</summary>
        public string? Template { get; init; }
        /// <summary>Label name → the text the model writes for it; default: the label names.</summary>
        public Dictionary<string, string>? Targets { get; init; }
        /// <summary>Per data set (by name) template and targets, for multi-task runs whose tasks need different ones.</summary>
        public Dictionary<string, TaskTemplate>? Tasks { get; init; }
        /// <summary>Text between the input and the answer: a decoder needs to be told where the answer starts.</summary>
        public string Separator { get; init; } = " answer:";
        /// <summary>Which prediction picks the best epoch and is reported unprefixed: <c>constrained</c> or <c>free</c>; the other is
        /// reported as <c>free.*</c> / <c>constrained.*</c>.</summary>
        public string Decoding { get; init; } = "constrained";
        /// <summary>Grid of a regression target written as text (T5: STS-B rounded to 0.2).</summary>
        public double Grid { get; init; } = 0.2;
        /// <summary>Tokens per sequence; 0 = the model's context.</summary>
        public int MaxLength { get; init; }
    }

    public IObjectiveInstance Create(ObjectiveContext context)
    {
        const string section = "objective.options";
        var o = PluginOptions.Bind<Options>(context.Options, section);
        var task = context.Task;
        PluginOptions.Require(o.Decoding is "constrained" or "free", section, "decoding",
            $"must be \"constrained\" or \"free\", got \"{o.Decoding}\"");
        PluginOptions.Require(o.Grid > 0, section, "grid", $"must be > 0, got {o.Grid}");
        PluginOptions.Require(o.MaxLength >= 0, section, "max_length", $"must be ≥ 0, got {o.MaxLength}");
        foreach (var key in (o.Tasks?.Keys ?? Enumerable.Empty<string>()).Where(k => !context.RunTasks.Contains(k)))
            throw new OptionsException($"{section}.tasks.{key}: not a task of this run ({string.Join(", ", context.RunTasks)})");
        var own = o.Tasks?.GetValueOrDefault(task.Name);
        string field = own?.Template is not null ? $"{section}.tasks.{task.Name}.template" : $"{section}.template";
        var template = PrefixTemplate.Parse(own?.Template ?? o.Template ?? BuiltInPrefixes.For(task), task.Format, field);
        var answers = Answers(task, own?.Targets ?? o.Targets, o.Grid, own?.Targets is not null ? $"{section}.tasks.{task.Name}.targets"
            : $"{section}.targets");
        int room = context.Room(o.MaxLength);
        return new TextToTextInstance(new AnswerScorer(context.Model, context.Tokenizer, room), template, answers, o.Separator,
            o.Decoding);
    }

    static AnswerSet Answers(TaskData task, Dictionary<string, string>? targets, double grid, string field)
    {
        if (task.Format == InputFormat.MultipleChoice)
        {
            if (targets is not null) throw new OptionsException($"{field}: a multiple-choice answer is its option's text; remove targets");
            return new OptionAnswers();
        }
        if (task.IsRegression)
        {
            if (targets is not null) throw new OptionsException($"{field}: a regression answer is its score as text; remove targets");
            var values = task.Train.Select(e => e.Target).Where(double.IsFinite).ToList();
            if (values.Count == 0) throw new DataException($"task {task.Name}: no training targets to build the score grid from");
            double candidates = (Math.Ceiling(values.Max() / grid) - Math.Floor(values.Min() / grid)) + 1;
            if (candidates > 1000)
                throw new OptionsException($"objective.options.grid: {grid} over the targets' range " +
                    $"[{values.Min()}, {values.Max()}] makes {candidates:F0} answers; choose a coarser grid (≤ 1000 answers)");
            return new ScoreAnswers(grid, values);
        }
        foreach (var key in (targets?.Keys ?? Enumerable.Empty<string>()).Where(k => !task.Labels.Contains(k)))
            throw new OptionsException($"{field}: '{key}' is not a label of {task.Name} ({string.Join(", ", task.Labels)})");
        // Generated answers are compared trimmed: so are the targets.
        var words = task.Labels.Select(l => (targets?.GetValueOrDefault(l) ?? l).Trim()).ToList();
        if (words.Any(string.IsNullOrWhiteSpace)) throw new OptionsException($"{field}: every label needs a non-empty target text");
        if (words.Distinct().Count() != words.Count)
            throw new OptionsException($"{field}: two labels share the target text ({string.Join(", ", words)})");
        return new LabelAnswers(words);
    }
}
