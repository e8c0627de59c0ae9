using PluginGpt.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// <c>pet</c> (Schick &amp; Schütze 2021, Exploiting Cloze Questions for Few Shot Text Classification): the task as a cloze
/// question the pre-trained LM can already answer. Labels are scored through a pattern and a verbalizer
/// (<see cref="ClozeScorer"/>), q(l|x) = softmax over labels, the loss (1 − α)·CE(q, label) + α·LM on unlabelled text.
/// No head and no new parameters: it trains whatever the method trains. <c>zero_shot</c> only predicts (the untrained
/// model's PET prediction).
/// </summary>
public sealed class PetObjective : IObjective
{
    public PluginManifest Manifest { get; } = new("pet", PluginKind.Objective, "1.0.0",
        "PET: cloze pattern + verbalizer, labels scored by the LM at the answer slot; (1 − α)·CE + α·LM, no new parameters.");

    public sealed record Options
    {
        /// <summary>The pattern: <c>{text_a}</c>, <c>{text_b}</c> and one <c>{answer}</c>; null takes the built-in set's
        /// <see cref="PatternId"/>.</summary>
        public string? Pattern { get; init; }
        /// <summary>Which of the data set's built-in patterns (when <see cref="Pattern"/> is not given).</summary>
        public int PatternId { get; init; }
        /// <summary>Label name → words; null takes the data set's built-in verbalizer.</summary>
        public Dictionary<string, List<string>>? Verbalizer { get; init; }
        /// <summary>α, the weight of the auxiliary LM loss on unlabelled text (PET: 1e-4); 0 turns it off.</summary>
        public double LmAlpha { get; init; } = 1e-4;
        /// <summary>Predict only, with the model as it is (no training).</summary>
        public bool ZeroShot { get; init; }
        /// <summary>Tokens per sequence; 0 = the model's context.</summary>
        public int MaxLength { get; init; }
        /// <summary>Contextual calibration (Zhao et al. 2021) of predictions, not of the loss: label probabilities are divided by
        /// those the pattern gives a content-free input ("N/A" for each text) with the model as it is, and renormalised.
        /// Not PET's; for a zero-shot pattern whose verbalizer the LM favours one way whatever the text.</summary>
        public bool Calibrate { get; init; }
        public int Seed { get; init; } = 13;
    }

    public IObjectiveInstance Create(ObjectiveContext context)
    {
        const string section = "objective.options";
        var o = PluginOptions.Bind<Options>(context.Options, section);
        var task = context.Task;
        PluginOptions.Require(task.Format is InputFormat.Single or InputFormat.Pair or InputFormat.MultipleChoice, section, "(task)",
            "PET classifies one text or an ordered pair of texts (classification, nli), or picks an option (multiple-choice)");
        bool choice = task.Format == InputFormat.MultipleChoice;
        PluginOptions.Require(!choice || o.Verbalizer is null, section, "verbalizer",
            "a multiple-choice task's options are the answers; it takes no verbalizer");
        PluginOptions.Require(o.LmAlpha is >= 0 and <= 1, section, "lm_alpha", $"must be in [0, 1], got {o.LmAlpha}");
        PluginOptions.Require(o.MaxLength >= 0, section, "max_length", $"must be ≥ 0, got {o.MaxLength}");
        PluginOptions.Require(!choice || !o.Calibrate, section, "calibrate",
            "calibrates label words; a multiple-choice task's options differ from example to example");
        var builtIn = BuiltInPatterns.For(task.Name);
        if (o.Pattern is null && builtIn is null)
            throw new OptionsException(
                $"{section}.pattern: data set '{task.Name}' has no built-in patterns; give \"pattern\" and \"verbalizer\"");
        if (o.Pattern is null)
            PluginOptions.Require(o.PatternId >= 0 && o.PatternId < builtIn!.Patterns.Count, section, "pattern_id",
                $"must be in [0, {builtIn!.Patterns.Count}) for {task.Name}, got {o.PatternId}");
        var pattern = Pattern.Parse(o.Pattern ?? builtIn!.Patterns[o.PatternId], $"{section}.pattern",
            task.Format == InputFormat.Pair ? 2 : 1);
        Verbalizer? verbalizer = null;
        if (!choice)
        {
            var byLabel = o.Verbalizer ?? builtIn?.Verbalizer
                ?? throw new OptionsException(
                    $"{section}.verbalizer: data set '{task.Name}' has no built-in verbalizer; give one (label → words)");
            verbalizer = PET.Verbalizer.Create(byLabel, task.Labels, context.Tokenizer, $"{section}.verbalizer");
        }
        int room = context.Room(o.MaxLength);
        return new Instance(context, o, new ClozeScorer(context.Model, context.Tokenizer, pattern, verbalizer, room), room);
    }

    sealed class Instance(ObjectiveContext context, Options options, ClozeScorer scorer, int room) : IObjectiveInstance
    {
        readonly Random unlabelledDraw = new(options.Seed);

        public bool Trains => !options.ZeroShot;

        public Tensor Loss(IReadOnlyList<Example> batch)
        {
            var device = context.Model.Device;
            var labels = torch.tensor(batch.Select(e => (long)e.Label).ToArray(), device: device);
            var ce = functional.cross_entropy(scorer.Scores(batch), labels);
            if (options.LmAlpha == 0) return ce;
            var task = (1 - options.LmAlpha) * ce;
            var lm = options.LmAlpha * LanguageModelLoss(batch.Count);
            LossParts = LossTerms.Read(("task", task), ("lm", lm));
            return task + lm;
        }

        /// <summary>PET's two terms: (1 − α)·CE and α·LM.</summary>
        public IReadOnlyDictionary<string, double>? LossParts { get; private set; }

        /// <summary>Next-token loss on as many unlabelled texts (the task's pool, else its training inputs), drawn in a seeded
        /// order.</summary>
        Tensor LanguageModelLoss(int count)
        {
            var pool = context.Task.Unlabelled is { Count: > 0 } u ? u : context.Task.Train;
            var texts = Enumerable.Range(0, count).Select(_ => pool[unlabelledDraw.Next(pool.Count)])
                .Select(e => context.Tokenizer.EncodeStart(string.Join(" ", e.Segments)).Prepend(context.Tokenizer.SequenceStart)
                    .Take(room).ToArray())
                .ToList();
            // A few widths, not one per longest text: tensors of ever-new sizes fragment the heap (SDK 2.10).
            int width = TokenBatch.BucketWidth(texts.Max(t => t.Length), context.Model.UsableContext);
            var ids = new long[texts.Count * width];
            var targets = new long[texts.Count * (width - 1)];
            Array.Fill(ids, context.Tokenizer.Pad);
            Array.Fill(targets, -1);
            for (int i = 0; i < texts.Count; i++)
                for (int t = 0; t < texts[i].Length; t++)
                {
                    ids[i * width + t] = texts[i][t];
                    if (t > 0) targets[i * (width - 1) + t - 1] = texts[i][t];
                }
            var device = context.Model.Device;
            var input = torch.tensor(ids, [texts.Count, width], device: device);
            return PluginGpt.Abstractions.LanguageModelLoss.Mean(context.Model, context.Model.Forward(input)[.., ..^1],
                torch.tensor(targets, [texts.Count, width - 1], device: device));
        }

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch)
        {
            using var _ = torch.no_grad();
            var logProbabilities = scorer.Scores(batch).to(ScalarType.Float64).log_softmax(1);
            if (options.Calibrate) logProbabilities -= ContentFreeLogProbabilities();
            var probabilities = logProbabilities.softmax(1).cpu();
            var list = new List<Prediction>();
            for (int i = 0; i < batch.Count; i++)
            {
                var row = probabilities[i].data<double>().ToArray();
                int best = Array.IndexOf(row, row.Max());
                list.Add(new Prediction(best, row[best], row));
            }
            return list;
        }

        /// <summary>[1, labels]: what the model as it is now gives an input without content (computed per call: a trained
        /// model's prior differs from the zero-shot one).</summary>
        Tensor ContentFreeLogProbabilities()
        {
            int texts = context.Task.Format == InputFormat.Pair ? 2 : 1;
            var contentFree = new Example(Enumerable.Repeat("N/A", texts).ToList());
            return scorer.Scores([contentFree]).to(ScalarType.Float64).log_softmax(1);
        }
    }
}
