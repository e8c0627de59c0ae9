using PluginGpt.Core.Training;

namespace PluginGpt.Core.Tests;

/// <summary>T5's mixing rates in closed form, and the draws that follow them.</summary>
public class TaskMixtureTests
{
    [Fact]
    public void Rates_follow_T5s_formulas()
    {
        int[] sizes = [1000, 100, 10];
        Assert.Equal([1000 / 1110.0, 100 / 1110.0, 10 / 1110.0], TaskMixture.RatesFor(sizes, "proportional", 0, 1), new Close());
        Assert.Equal([100 / 210.0, 100 / 210.0, 10 / 210.0], TaskMixture.RatesFor(sizes, "proportional", 100, 1), new Close());
        double a = Math.Sqrt(1000), b = Math.Sqrt(100), c = Math.Sqrt(10);
        Assert.Equal([a / (a + b + c), b / (a + b + c), c / (a + b + c)], TaskMixture.RatesFor(sizes, "temperature", 0, 2), new Close());
        Assert.Equal([1 / 3.0, 1 / 3.0, 1 / 3.0], TaskMixture.RatesFor(sizes, "equal", 0, 1), new Close());
        // With a limit and a temperature: min(e, K)^(1/T).
        double k = Math.Sqrt(100), s = Math.Sqrt(10);
        Assert.Equal([k / (2 * k + s), k / (2 * k + s), s / (2 * k + s)], TaskMixture.RatesFor(sizes, "temperature", 100, 2), new Close());
        // T → 0 gives everything to the largest task (no overflow: 1000^100 is not a double).
        Assert.Equal([1.0, 0.0, 0.0], TaskMixture.RatesFor(sizes, "temperature", 0, 0.01), new Close());
    }

    [Theory]
    [InlineData("proportional", 0, 1.0)]
    [InlineData("proportional", 50, 1.0)]
    [InlineData("temperature", 0, 3.0)]
    public void Over_many_draws_each_task_is_drawn_at_its_rate(string strategy, int limit, double temperature)
    {
        int[] sizes = [300, 60, 12];
        var mixture = new TaskMixture(sizes, strategy, limit, temperature, seed: 5);
        var counts = new int[3];
        int total = 0;
        for (int epoch = 1; epoch <= 200; epoch++)
            foreach (var (task, _) in mixture.Epoch(epoch)) { counts[task]++; total++; }
        Assert.Equal(200 * sizes.Sum(n => limit > 0 ? Math.Min(n, limit) : n), total);
        for (int m = 0; m < 3; m++)
        {
            // Within 4 standard deviations of a binomial share: a wrong rate (by even 2 %) falls outside.
            double p = mixture.Rates[m], sigma = Math.Sqrt(p * (1 - p) / total);
            Assert.InRange(counts[m] / (double)total, p - 4 * sigma, p + 4 * sigma);
        }
    }

    [Fact]
    public void A_tasks_examples_all_come_once_before_any_repeats_and_draws_are_reproducible()
    {
        int[] sizes = [40, 7];
        var mixture = new TaskMixture(sizes, "equal", 0, 1, seed: 3);
        var small = Enumerable.Range(1, 20).SelectMany(mixture.Epoch).Where(d => d.Task == 1).Select(d => d.Index).ToList();
        for (int start = 0; start + 7 <= small.Count; start += 7)
            Assert.Equal(Enumerable.Range(0, 7), small.Skip(start).Take(7).Order());   // each block of 7 is a permutation
        var again = new TaskMixture(sizes, "equal", 0, 1, seed: 3);
        Assert.Equal(mixture.Epoch(3), again.Epoch(3));
        Assert.Equal(mixture.Epoch(3), mixture.Epoch(3));
    }

    sealed class Close : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-12;
        public int GetHashCode(double obj) => 0;
    }
}
