using System.Globalization;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>
/// What a text-to-text model may answer for an example and how an answer becomes a prediction: one word per label, the
/// example's own options (multiple choice), or a score written on a grid (STS-B: 0.0, 0.2, …, 5.0).
/// </summary>
public abstract class AnswerSet
{
    /// <summary>Every answer allowed for <paramref name="e"/> (constrained decoding scores each).</summary>
    public abstract IReadOnlyList<string> Candidates(Example e);
    /// <summary>The answer the model is trained to write for <paramref name="e"/>.</summary>
    public abstract string Gold(Example e);
    /// <summary>The prediction when candidate <paramref name="best"/> wins, <paramref name="probabilities"/> over the candidates.</summary>
    public abstract Prediction Chosen(Example e, int best, double[] probabilities);
    /// <summary>The prediction for an answer that is not a candidate: wrong, and counted in <c>invalid_rate</c>.</summary>
    public abstract Prediction Invalid(Example e);

    /// <summary>The prediction for a generated answer: exact match against the candidates, else invalid.</summary>
    public Prediction FromText(Example e, string answer)
    {
        var candidates = Candidates(e);
        int index = -1;
        for (int i = 0; i < candidates.Count && index < 0; i++) if (candidates[i] == answer.Trim()) index = i;
        if (index < 0) return Invalid(e);
        var oneHot = new double[candidates.Count];
        oneHot[index] = 1;
        return Chosen(e, index, oneHot);
    }
}

/// <summary>One target text per class, in label order.</summary>
public sealed class LabelAnswers(IReadOnlyList<string> words) : AnswerSet
{
    public override IReadOnlyList<string> Candidates(Example e) => words;
    public override string Gold(Example e) => words[e.Label];
    public override Prediction Chosen(Example e, int best, double[] probabilities) => new(best, probabilities[best], probabilities);
    public override Prediction Invalid(Example e) => new(-1, 0, new double[words.Count], Invalid: true);
}

/// <summary>Multiple choice: the answer is the right option's text.</summary>
public sealed class OptionAnswers : AnswerSet
{
    public override IReadOnlyList<string> Candidates(Example e) =>
        e.Options ?? throw new OptionsException("a multiple-choice example needs its options (the answers are their texts)");
    public override string Gold(Example e) => e.Options![e.Label];
    public override Prediction Chosen(Example e, int best, double[] probabilities) => new(best, probabilities[best], probabilities);
    public override Prediction Invalid(Example e) => new(-1, 0, new double[e.Options!.Count], Invalid: true);
}

/// <summary>
/// Regression as text (T5's STS-B): the target rounded to the nearest multiple of the step and written with as
/// many decimals as the step has (<c>3.8</c>); the answers are every grid value between the training targets' extremes. An
/// invalid answer predicts the training targets' mean, the guess that knows nothing of the input.
/// </summary>
public sealed class ScoreAnswers : AnswerSet
{
    readonly double step, low, high, fallback;
    readonly int decimals;
    readonly IReadOnlyList<string> grid;

    public ScoreAnswers(double step, IReadOnlyList<double> trainTargets)
    {
        this.step = step;
        decimals = Decimals(step);
        low = Math.Floor(trainTargets.Min() / step + 1e-9) * step;
        high = Math.Ceiling(trainTargets.Max() / step - 1e-9) * step;
        fallback = trainTargets.Average();
        int count = (int)Math.Round((high - low) / step) + 1;
        grid = Enumerable.Range(0, count).Select(i => Format(low + i * step)).ToList();
    }

    public override IReadOnlyList<string> Candidates(Example e) => grid;
    public override string Gold(Example e) => Format(Math.Clamp(e.Target, low, high));
    public override Prediction Chosen(Example e, int best, double[] probabilities) => new(-1, Parse(grid[best]), probabilities);
    public override Prediction Invalid(Example e) => new(-1, fallback, new double[grid.Count], Invalid: true);

    /// <summary>The score rounded to the grid, as text (3.79 → "3.8" for a step of 0.2).</summary>
    public string Format(double score) =>
        (Math.Round(score / step, MidpointRounding.AwayFromZero) * step).ToString("F" + decimals, CultureInfo.InvariantCulture);

    public static double Parse(string text) => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>Decimals a grid step needs (0.2 → 1, 0.25 → 2, 1 → 0).</summary>
    static int Decimals(double step)
    {
        var text = step.ToString("R", CultureInfo.InvariantCulture);
        int dot = text.IndexOf('.');
        return dot < 0 ? 0 : text.Length - dot - 1;
    }
}
