namespace PluginGpt.Plugins.Tasks;

/// <summary>Closed-form evaluation metrics.</summary>
public static class Metrics
{
    public static double Accuracy(IReadOnlyList<int> predicted, IReadOnlyList<int> gold) =>
        predicted.Count == 0 ? 0 : predicted.Zip(gold).Count(p => p.First == p.Second) / (double)predicted.Count;

    /// <summary>F1 of one class (binary F1 when <paramref name="positive"/> is the positive class).</summary>
    public static double F1(IReadOnlyList<int> predicted, IReadOnlyList<int> gold, int positive)
    {
        int tp = predicted.Zip(gold).Count(p => p.First == positive && p.Second == positive);
        int fp = predicted.Zip(gold).Count(p => p.First == positive && p.Second != positive);
        int fn = predicted.Zip(gold).Count(p => p.First != positive && p.Second == positive);
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    /// <summary>Unweighted mean of per-class F1 over the classes present in gold or predictions.</summary>
    public static double MacroF1(IReadOnlyList<int> predicted, IReadOnlyList<int> gold, int classes) =>
        Enumerable.Range(0, classes).Where(c => gold.Contains(c) || predicted.Contains(c)).Select(c => F1(predicted, gold, c))
            .DefaultIfEmpty(0).Average();

    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double mx = x.Average(), my = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxx == 0 || syy == 0 ? 0 : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Pearson correlation of ranks (ties share their average rank).</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y) => Pearson(Ranks(x), Ranks(y));

    static double[] Ranks(IReadOnlyList<double> v)
    {
        var order = Enumerable.Range(0, v.Count).OrderBy(i => v[i]).ToArray();
        var ranks = new double[v.Count];
        for (int i = 0; i < order.Length;)
        {
            int j = i;
            while (j + 1 < order.Length && v[order[j + 1]] == v[order[i]]) j++;
            for (int k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2.0 + 1;
            i = j + 1;
        }
        return ranks;
    }
}
