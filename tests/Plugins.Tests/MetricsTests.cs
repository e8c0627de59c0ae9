using PluginGpt.Plugins.Tasks;

namespace PluginGpt.Plugins.Tests;

public class MetricsTests
{
    [Fact]
    public void Accuracy_and_F1_by_hand()
    {
        int[] gold = [1, 1, 0, 0, 1], predicted = [1, 0, 0, 1, 1];
        Assert.Equal(0.6, Metrics.Accuracy(predicted, gold), 12);
        // class 1: tp 2, fp 1, fn 1 → F1 = 4/6; class 0: tp 1, fp 1, fn 1 → 2/4
        Assert.Equal(4.0 / 6, Metrics.F1(predicted, gold, 1), 12);
        Assert.Equal((4.0 / 6 + 0.5) / 2, Metrics.MacroF1(predicted, gold, 2), 12);
    }

    [Fact]
    public void Pearson_and_Spearman_by_hand()
    {
        double[] x = [1, 2, 3, 4], y = [2, 4, 6, 9];
        // Σdxdy = 11.5, Σdx² = 5, Σdy² = 26.75 → r = 11.5 / √133.75
        Assert.Equal(11.5 / Math.Sqrt(133.75), Metrics.Pearson(x, y), 12);
        Assert.Equal(1.0, Metrics.Spearman(x, y), 12);                    // monotone
        Assert.Equal(-1.0, Metrics.Spearman(x, [4.0, 3, 2, 1]), 12);
        Assert.Equal(0.9486832980505138, Metrics.Spearman([1.0, 2, 2, 3], [1.0, 2, 3, 4]), 12);   // tie → average rank 2.5
    }
}
