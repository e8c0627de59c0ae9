using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// iPET's new training examples for one model of the next generation (Schick &amp; Schütze 2021, §3.3): the pool labelled by
/// an ensemble of other models, and per label as many examples as T's label ratio asks for, drawn without replacement with
/// probability proportional to the ensemble's confidence (its largest class probability).
/// </summary>
public static class IpetDraw
{
    /// <summary>How many new examples generation <paramref name="generation"/> (1, 2, …) adds to T: |T|·d^g − |T|.</summary>
    public static int NewExamples(int trainCount, double growth, int generation) =>
        (int)(trainCount * Math.Pow(growth, generation)) - trainCount;

    /// <summary>Per label, T's share of <paramref name="total"/> (rounded down, as PET does); without T (zero-shot iPET) an equal
    /// share each, as PET's uniform label distribution.</summary>
    public static int[] PerLabel(IReadOnlyList<Example> train, int labels, int total) => train.Count == 0
        ? Enumerable.Repeat(total / labels, labels).ToArray()
        : Enumerable.Range(0, labels).Select(l => (int)((long)train.Count(e => e.Label == l) * total / train.Count)).ToArray();

    /// <summary>Draws the new examples: <paramref name="pool"/> labelled by <paramref name="probabilities"/> (argmax), per label
    /// <paramref name="perLabel"/>[l] of them; a label with too few candidates repeats them (PET upsamples). A label the
    /// ensemble predicts for no example takes the examples it finds likeliest for that label (where PET's loop would never
    /// end): the label ratio holds, so a weak ensemble cannot collapse the next generation onto one class.</summary>
    /// <param name="mostLikely">when given (zero-shot iPET's first generation, PET's <c>n_most_likely</c>), each label's candidates
    /// are the pool's examples likeliest for it, not those it is the argmax of.</param>
    public static List<Example> Draw(IReadOnlyList<Example> pool, double[][] probabilities, int[] perLabel, Random rng,
        int? mostLikely = null)
    {
        var drawn = new List<Example>();
        for (int label = 0; label < perLabel.Length; label++)
        {
            if (perLabel[label] == 0 || pool.Count == 0) continue;
            var candidates = mostLikely is { } n
                ? Enumerable.Range(0, pool.Count).OrderByDescending(i => probabilities[i][label]).Take(n).ToList()
                : Enumerable.Range(0, pool.Count).Where(i => ArgMax(probabilities[i]) == label).ToList();
            if (candidates.Count == 0)
                candidates = Enumerable.Range(0, pool.Count).OrderByDescending(i => probabilities[i][label]).Take(perLabel[label]).ToList();
            var entries = new List<int>(candidates);
            while (entries.Count < perLabel[label]) entries.AddRange(candidates);
            // Weighted sampling without replacement (Efraimidis & Spirakis 2006): the k largest keys u^(1/w), w the probability
            // of the label (the ensemble's confidence where it predicts the label).
            var keys = entries.Select(i => (Index: i, Key: Math.Pow(rng.NextDouble(), 1 / probabilities[i][label]))).ToList();
            drawn.AddRange(keys.OrderByDescending(k => k.Key).Take(perLabel[label])
                .Select(k => pool[k.Index] with { Label = label, Soft = null }));
        }
        return drawn;
    }

    static int ArgMax(double[] row) => Array.IndexOf(row, row.Max());
}
