using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>One trained model's log-probabilities ([example][label]) on the dev set and the unlabelled pool, and its vote's
/// weight.</summary>
public sealed record ModelScores(string Name, string Run, int Pattern, double Weight, double[][] Dev, double[][] Unlabelled);

/// <summary>
/// PET's ensemble: the weighted mean of the models' scores per example and label, s(l|x) = Σ w_m·s_m(l|x) / Σ w_m, turned
/// into soft labels q = softmax(s / T). Log-probabilities stand in for PET's logits: they differ from a model's logits by one
/// constant per example, which the softmax ignores.
/// </summary>
public static class Ensemble
{
    /// <summary>Log-probabilities of predictions (floored so that a probability of 0 stays finite).</summary>
    public static double[][] LogProbabilities(IEnumerable<Prediction> predictions) =>
        predictions.Select(p => p.Probabilities.Select(q => Math.Log(Math.Max(q, 1e-300))).ToArray()).ToArray();

    /// <summary>The weighted mean of <paramref name="scores"/> (one matrix per model) with <paramref name="weights"/>.</summary>
    public static double[][] Merge(IReadOnlyList<double[][]> scores, IReadOnlyList<double> weights)
    {
        if (scores.Count == 0 || scores.Count != weights.Count) throw new ArgumentException("one weight per model, at least one model");
        // Every pattern scoring 0 on T (a tiny T) leaves no preference among them: their votes then count equally.
        if (weights.Any(w => w < 0)) throw new ArgumentException("weights are accuracies: never negative");
        if (!(weights.Sum() > 0)) weights = [.. weights.Select(_ => 1.0)];
        double total = weights.Sum();
        int rows = scores[0].Length, labels = scores[0][0].Length;
        var merged = new double[rows][];
        for (int i = 0; i < rows; i++)
        {
            merged[i] = new double[labels];
            for (int m = 0; m < scores.Count; m++)
                for (int l = 0; l < labels; l++) merged[i][l] += weights[m] * scores[m][i][l] / total;
        }
        return merged;
    }

    /// <summary>softmax(<paramref name="scores"/> / <paramref name="temperature"/>), computed stably.</summary>
    public static double[] Softmax(double[] scores, double temperature)
    {
        double max = scores.Max();
        var e = scores.Select(s => Math.Exp((s - max) / temperature)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>The ensemble's predictions (argmax, its probability, the distribution at T = 1), for the task's metrics.</summary>
    public static IReadOnlyList<Prediction> Predictions(double[][] merged) => merged.Select(row =>
    {
        var p = Softmax(row, 1);
        int best = Array.IndexOf(p, p.Max());
        return new Prediction(best, p[best], p);
    }).ToList();

    /// <summary>The pool's examples with the ensemble's soft labels at <paramref name="temperature"/> (and its argmax as label).</summary>
    public static IReadOnlyList<Example> SoftLabelled(IReadOnlyList<Example> pool, double[][] merged, double temperature) =>
        pool.Select((e, i) =>
        {
            var soft = Softmax(merged[i], temperature);
            return e with { Label = Array.IndexOf(soft, soft.Max()), Soft = soft };
        }).ToList();
}
