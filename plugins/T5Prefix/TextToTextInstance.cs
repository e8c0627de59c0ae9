using PluginGpt.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>The <c>text-to-text</c> objective built for one task: training loss, constrained and free predictions.</summary>
public sealed class TextToTextInstance(AnswerScorer scorer, PrefixTemplate template, AnswerSet answers, string separator,
    string decoding) : IObjectiveInstance
{
    public const string Constrained = "constrained", Free = "free";

    public bool Trains => true;

    public IReadOnlyList<string> Alternatives => [decoding == Free ? Constrained : Free];

    public bool MayAnswerInvalid => decoding == Free;

    public int[]? PromptTokens(Example example) => scorer.Encode(template.Fill(example), separator, "", Reserve(example)).Prompt;

    /// <summary>The training sequence of an example: its prompt and gold answer.</summary>
    public AnswerSequence Sequence(Example e) =>
        scorer.Encode(template.Fill(e), separator, answers.Gold(e), Reserve(e));

    /// <summary>Tokens the longest allowed answer of <paramref name="e"/> needs (all candidates share one prompt).</summary>
    int Reserve(Example e) => answers.Candidates(e).Max(c => scorer.AnswerTokens(c).Length);

    public Tensor Loss(IReadOnlyList<Example> batch) => scorer.Loss(batch.Select(Sequence).ToList());

    public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch) => PredictAlternative(decoding, batch);

    public IReadOnlyList<Prediction> PredictAlternative(string name, IReadOnlyList<Example> batch)
    {
        using var _ = torch.no_grad();
        return name switch
        {
            Constrained => ConstrainedPredictions(batch),
            Free => FreePredictions(batch),
            _ => throw new ArgumentException($"text-to-text predicts '{Constrained}' or '{Free}', not '{name}'"),
        };
    }

    /// <summary>Every allowed answer scored by its log-likelihood after the prompt; the best one wins.</summary>
    IReadOnlyList<Prediction> ConstrainedPredictions(IReadOnlyList<Example> batch)
    {
        var sequences = new List<AnswerSequence>();
        foreach (var e in batch)
        {
            // Each candidate encoded once: its tokens also give the room the prompt must leave.
            var candidates = answers.Candidates(e).Select(scorer.AnswerTokens).ToList();
            var prompt = scorer.Encode(template.Fill(e), separator, "", candidates.Max(c => c.Length)).Prompt;
            sequences.AddRange(candidates.Select(c => new AnswerSequence(prompt, c)));
        }
        var scores = scorer.LogLikelihoods(sequences).to(ScalarType.Float64).cpu().data<double>().ToArray();
        var predictions = new List<Prediction>();
        int offset = 0;
        foreach (var e in batch)
        {
            int n = answers.Candidates(e).Count;
            var row = scores[offset..(offset + n)];
            offset += n;
            double max = row.Max();
            var exp = row.Select(s => Math.Exp(s - max)).ToArray();
            double sum = exp.Sum();
            predictions.Add(answers.Chosen(e, Array.IndexOf(row, max), [.. exp.Select(x => x / sum)]));
        }
        return predictions;
    }

    /// <summary>Greedy generation after the prompt, read back by exact match.</summary>
    IReadOnlyList<Prediction> FreePredictions(IReadOnlyList<Example> batch)
    {
        var reserves = batch.Select(Reserve).ToList();
        var prompts = batch.Select((e, i) => scorer.Encode(template.Fill(e), separator, "", reserves[i]).Prompt).ToList();
        int maxNew = reserves.Max();   // the longest allowed answer with its end of text; longer is wrong anyway
        var generated = scorer.Greedy(prompts, maxNew);
        return batch.Select((e, i) => answers.FromText(e, scorer.Decode(generated[i]))).ToList();
    }
}
