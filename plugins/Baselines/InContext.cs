using System.Text.Json;
using PluginGpt.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Baselines;

/// <summary>
/// <c>in-context</c>: no training. k labelled demonstrations go into the prompt (k = 0: zero-shot, the template alone); a class
/// is chosen by comparing the model's next-token scores of the label words, a multiple-choice option by the mean
/// log-probability of its tokens. With <c>chain_of_thought</c> the demonstrations carry rationales and the model writes its own
/// before answering (<see cref="ChainOfThought"/>).
/// </summary>
public sealed class InContext : IObjective
{
    public PluginManifest Manifest { get; } = new("in-context", PluginKind.Objective, "1.0.0",
        "In-context learning: k demonstrations in the prompt, label words scored by the LM; no training.");

    public sealed record Options
    {
        /// <summary>Demonstrations per prompt (the same seeded, label-balanced set for every example); 0 is zero-shot.</summary>
        public int K { get; init; } = 4;
        /// <summary>Hand-written demonstrations instead of k drawn from the training set (chain of thought needs them: they carry
        /// the rationales).</summary>
        public List<Demonstration>? Demonstrations { get; init; }
        /// <summary>Demonstrations show a rationale before the answer; the model generates its own and the answer is read from
        /// it.</summary>
        public bool ChainOfThought { get; init; }
        /// <summary>Where the answer is in generated text (chain of thought): a regular expression whose first group is the label
        /// word.</summary>
        public string AnswerPattern { get; init; } = Baselines.ChainOfThought.DefaultPattern;
        /// <summary>Most tokens generated per answer (chain of thought).</summary>
        public int MaxNewTokens { get; init; } = 64;
        /// <summary>One word per label, in label order; default: the task's label names.</summary>
        public List<string>? Verbalizer { get; init; }
        /// <summary>Prompt of one example: {0}, {1} are its texts, {label} the label word (the answer slot).</summary>
        public string? Template { get; init; }
        public int Seed { get; init; } = 13;
        /// <summary>Contextual calibration (Zhao et al. 2021): divide label probabilities by those the prompt gives a content-free input
        /// ("N/A").</summary>
        public bool Calibrate { get; init; }
        /// <summary>Noisy-channel scoring (Min et al. 2022): the template puts <c>{label}</c> before the text, and a class scores the
        /// text's likelihood given its label word (<see cref="ChannelPrompt"/>); needs no calibration.</summary>
        public bool Channel { get; init; }
    }

    public IObjectiveInstance Create(ObjectiveContext context)
    {
        var o = PluginOptions.Bind<Options>(context.Options, "objective.options");
        var task = context.Task;
        PluginOptions.Require(!task.IsRegression, "objective.options", "(task)",
            "in-context learning needs classes or options, not a regression target");
        PluginOptions.Require(o.K >= 0, "objective.options", "k", $"must be ≥ 0, got {o.K}");
        var words = task.Format == InputFormat.MultipleChoice ? [] : o.Verbalizer ?? [.. task.Labels];
        PluginOptions.Require(task.Format == InputFormat.MultipleChoice || words.Count == task.Labels.Count, "objective.options",
            "verbalizer", $"needs one word per label ({task.Labels.Count}: {string.Join(", ", task.Labels)}), got {words.Count}");
        var template = o.Template ?? (o.ChainOfThought ? Baselines.ChainOfThought.DefaultTemplate
            : o.Channel ? ChannelPrompt.DefaultTemplate(task.Format)
            : task.Format == InputFormat.Single ? "{0}\nAnswer: {label}"
            : task.Format == InputFormat.MultipleChoice ? "{0} {label}"
            : "{0}\nQuestion: {1}?\nAnswer: {label}");
        if (o.Channel)
        {
            PluginOptions.Require(!o.Calibrate && !o.ChainOfThought, "objective.options", "channel",
                "scores the text under each label word; it takes neither calibrate nor chain_of_thought");
            ChannelPrompt.Check(template, task.Format);
        }
        else
            PluginOptions.Require(o.ChainOfThought || template.EndsWith("{label}"), "objective.options", "template",
                "must end with {label}, the slot the model fills");
        var given = o.Demonstrations?.Select((d, i) => Given(d, i, task, o.ChainOfThought)).ToList();
        ChainOfThought? reasoning = null;
        if (o.ChainOfThought)
        {
            PluginOptions.Require(task.Format != InputFormat.MultipleChoice, "objective.options", "chain_of_thought",
                "answers a class with a label word; multiple choice is not supported");
            PluginOptions.Require(given is not null, "objective.options", "demonstrations",
                "chain of thought needs hand-written demonstrations with a \"rationale\" each");
            reasoning = Baselines.ChainOfThought.Create(template, words, o.AnswerPattern, "objective.options");
            int room = context.Model.UsableContext;
            PluginOptions.Require(o.MaxNewTokens >= 1 && o.MaxNewTokens < room - 1, "objective.options", "max_new_tokens",
                $"must be in [1, {room - 2}] (the model's {room} positions hold the prompt too), got {o.MaxNewTokens}");
        }
        return new Instance(context, o, words, template, given, reasoning);
    }

    /// <summary>A hand-written demonstration as an example of the task (its label found by name).</summary>
    static (Example Example, string? Rationale) Given(Demonstration d, int i, TaskData task, bool reasoning)
    {
        string field = $"objective.options.demonstrations[{i}]";
        int segments = task.Format is InputFormat.Pair or InputFormat.SymmetricPair ? 2 : 1;
        if (d.Text.Count != segments)
            throw new OptionsException($"{field}.text: {task.Name} examples have {segments} text(s), got {d.Text.Count}");
        if (task.Format == InputFormat.MultipleChoice)
            throw new OptionsException($"{field}: multiple-choice demonstrations are drawn from the training set (k)");
        int label = task.Labels.ToList().IndexOf(d.Label);
        if (label < 0)
            throw new OptionsException($"{field}.label: '{d.Label}' is not a label of {task.Name} ({string.Join(", ", task.Labels)})");
        if (reasoning && string.IsNullOrWhiteSpace(d.Rationale))
            throw new OptionsException($"{field}.rationale: chain of thought needs one");
        return (new Example(d.Text, label), d.Rationale);
    }

    sealed class Instance : IObjectiveInstance
    {
        readonly ObjectiveContext context;
        readonly IReadOnlyList<string> words;
        readonly string template;
        readonly IReadOnlyList<Example> demonstrations;
        readonly IReadOnlyList<string?> rationales;
        readonly ChainOfThought? reasoning;
        readonly int maxNewTokens;
        readonly int[] labelTokens;
        readonly double[]? prior;
        readonly ChannelPrompt? channel;

        public Instance(ObjectiveContext context, Options options, IReadOnlyList<string> words, string template,
            IReadOnlyList<(Example Example, string? Rationale)>? given, ChainOfThought? reasoning)
        {
            this.context = context;
            this.words = words;
            this.template = template;
            this.reasoning = reasoning;
            maxNewTokens = options.MaxNewTokens;
            demonstrations = given?.Select(g => g.Example).ToList() ?? Balanced(context.Task.Train, options.K, options.Seed);
            if (options.Channel) channel = new ChannelPrompt(context, template, words, demonstrations, Answer);
            rationales = given?.Select(g => g.Rationale).ToList() ?? demonstrations.Select(_ => (string?)null).ToList();
            // A label is scored by the first token of " word" (the template puts a space or newline before it).
            labelTokens = words.Select(w => context.Tokenizer.Encode(" " + w)[0]).ToArray();
            if (reasoning is null && channel is null && labelTokens.Distinct().Count() != labelTokens.Length)
                throw new OptionsException($"objective.options.verbalizer: the words {string.Join(", ", words)} share a first token; " +
                    "choose words that differ at the start");
            if (options.Calibrate && context.Task.Format != InputFormat.MultipleChoice)
            {
                using var scope = torch.NewDisposeScope();
                using var _ = torch.no_grad();
                var contentFree = new Example(Enumerable.Repeat("N/A", Math.Max(1, context.Task.Train[0].Segments.Count)).ToList());
                prior = LabelLogProbabilities(contentFree);
            }
        }

        public bool Trains => false;
        public bool MayAnswerInvalid => reasoning is not null;
        public Tensor Loss(IReadOnlyList<Example> batch) => throw new NotSupportedException("in-context learning does not train");

        /// <summary>Round-robin over labels so every class is shown when k allows.</summary>
        static IReadOnlyList<Example> Balanced(IReadOnlyList<Example> train, int k, int seed)
        {
            var rng = new Random(seed);
            var byLabel = train.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => g.OrderBy(_ => rng.Next()).ToQueue()).ToList();
            var picked = new List<Example>();
            for (int i = 0; picked.Count < k && byLabel.Any(q => q.Count > 0); i++)
                if (byLabel[i % byLabel.Count].TryDequeue(out var e)) picked.Add(e);
            return picked.OrderBy(_ => rng.Next()).ToList();
        }

        string Fill(Example e, string answer) => PromptSlots.Fill(template.Replace("{label}", answer), e.Segments);

        string Answer(Example e) => context.Task.Format == InputFormat.MultipleChoice ? e.Options![e.Label] : words[e.Label];

        /// <summary>Demonstrations + the query without its answer (with chain of thought: up to its rationale).</summary>
        string PromptText(Example e) => reasoning is null
            ? string.Concat(demonstrations.Select(d => Fill(d, Answer(d)) + "\n\n")) + Fill(e, "").TrimEnd()
            : string.Concat(demonstrations.Select((d, i) => reasoning.Demonstration(d.Segments, rationales[i]!, Answer(d)) + "\n\n"))
                + reasoning.Query(e.Segments);

        public int[]? PromptTokens(Example example) => Prompt(example, reasoning is null ? 0 : maxNewTokens);

        /// <summary><see cref="PromptText"/> as tokens, trimmed from the front to fit the context, behind the model's BOS where it
        /// has one (Llama).</summary>
        int[] Prompt(Example e, int reserve)
        {
            var ids = context.Tokenizer.EncodeStart(PromptText(e));
            var bos = context.Tokenizer.BeginningOfSequence;
            int room = context.Model.UsableContext - reserve - (bos is null ? 0 : 1);
            var kept = ids.Length <= room ? ids : ids[^room..];
            return bos is { } start ? [start, .. kept] : kept;
        }

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch)
        {
            using var _ = torch.no_grad();
            if (reasoning is not null) return Reasoned(batch);
            return batch.Select(e => context.Task.Format == InputFormat.MultipleChoice ? ScoreOptions(e) : ScoreLabels(e)).ToList();
        }

        /// <summary>Chain of thought: greedy generation after each query, the answer read from the text.</summary>
        IReadOnlyList<Prediction> Reasoned(IReadOnlyList<Example> batch)
        {
            var prompts = batch.Select(e => Prompt(e, maxNewTokens)).ToList();
            var generated = TokenBatch.Greedy(context.Model, prompts, maxNewTokens, context.Tokenizer.EndOfText, context.Tokenizer.Pad,
                context.Model.UsableContext);
            return generated.Select(ids =>
            {
                int label = reasoning!.Extract(context.Tokenizer.Decode(ids));
                var p = new double[words.Count];
                if (label < 0) return new Prediction(-1, 0, p, Invalid: true);
                p[label] = 1;
                return new Prediction(label, 1, p);
            }).ToList();
        }

        /// <summary>Log-probabilities of the label words (renormalised over the labels) after the prompt for
        /// <paramref name="e"/>.</summary>
        double[] LabelLogProbabilities(Example e)
        {
            // The LM head runs at the last position only.
            var last = context.Model.Forward(Continuation.Ids(context, Prompt(e, 0)))[0, -1];
            var logits = Autocast.Float(context.Model.LmHead(last));
            var scores = logits.index_select(0, torch.tensor(labelTokens.Select(t => (long)t).ToArray(), device: logits.device));
            return scores.log_softmax(0).to(ScalarType.Float64).cpu().data<double>().ToArray();
        }

        Prediction ScoreLabels(Example e)
        {
            if (channel is not null) return Pick(channel.LabelLogProbabilities(e));
            var logProbabilities = LabelLogProbabilities(e);
            if (prior is null) return Pick(logProbabilities);
            var calibrated = logProbabilities.Select((l, i) => l - prior[i]).ToArray();
            double norm = Math.Log(calibrated.Sum(Math.Exp));
            return Pick(calibrated.Select(c => c - norm).ToArray());
        }

        Prediction ScoreOptions(Example e)
        {
            var scores = new double[e.Options!.Count];
            for (int i = 0; i < scores.Length; i++)
            {
                var option = context.Tokenizer.Encode(" " + e.Options[i]);
                // The mean, so long options are not penalised for their length.
                scores[i] = Continuation.LogProbability(context, Prompt(e, option.Length), option) / option.Length;
            }
            var normalised = torch.tensor(scores).log_softmax(0).data<double>().ToArray();
            return Pick(normalised);
        }

        static Prediction Pick(double[] logProbabilities)
        {
            var p = logProbabilities.Select(Math.Exp).ToArray();
            int best = Array.IndexOf(p, p.Max());
            return new Prediction(best, p[best], p);
        }

        /// <summary>Nothing trained; the demonstrations used are written down so the run can be reproduced and read.</summary>
        public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, "demonstrations.json"),
            JsonSerializer.Serialize(
                demonstrations.Select((d, i) => new { text = d.Segments, answer = Answer(d), rationale = rationales[i] }),
                new JsonSerializerOptions { WriteIndented = true }));
    }
}

static class QueueExtensions
{
    public static Queue<T> ToQueue<T>(this IEnumerable<T> items) => new(items);
}
