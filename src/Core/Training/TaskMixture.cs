namespace PluginGpt.Core.Training;

/// <summary>
/// T5's multi-task mixing (Raffel et al. 2020, §3.5.2): task m is drawn with probability r_m ∝ min(e_m, K)^(1/T) (e_m its
/// training examples, K the limit, T the temperature; <c>equal</c> gives every task 1/M). An epoch is Σ min(e_m, K) draws;
/// each task's examples are taken in a seeded order, reshuffled whenever a task runs out, so no example repeats before all of
/// its task's have been seen.
/// </summary>
public sealed class TaskMixture
{
    readonly int[] sizes;
    readonly double[] cumulative;
    readonly Random draw;
    readonly Random[] shufflers;
    readonly int[][] orders;
    readonly int[] next;
    readonly List<IReadOnlyList<(int Task, int Index)>> epochs = [];

    public IReadOnlyList<double> Rates { get; }
    /// <summary>Draws per epoch: Σ min(e_m, K).</summary>
    public int EpochSize { get; }

    public TaskMixture(IReadOnlyList<int> sizes, string strategy, int limit, double temperature, int seed)
    {
        this.sizes = [.. sizes];
        Rates = RatesFor(sizes, strategy, limit, temperature);
        cumulative = new double[Rates.Count];
        for (int m = 0; m < Rates.Count; m++) cumulative[m] = Rates[m] + (m > 0 ? cumulative[m - 1] : 0);
        EpochSize = sizes.Sum(n => Capped(n, limit));
        draw = new Random(seed);
        shufflers = sizes.Select((_, m) => new Random(seed * 31 + m + 1)).ToArray();
        orders = sizes.Select((n, m) => Shuffled(n, shufflers[m])).ToArray();
        next = new int[sizes.Count];
    }

    static int Capped(int n, int limit) => limit > 0 ? Math.Min(n, limit) : n;

    /// <summary>The mixing rates r_m (they sum to 1).</summary>
    public static double[] RatesFor(IReadOnlyList<int> sizes, string strategy, int limit, double temperature)
    {
        if (sizes.Count == 0 || sizes.Any(n => n <= 0)) throw new ArgumentException("every task needs training examples");
        var weights = strategy switch
        {
            "equal" => sizes.Select(_ => 1.0).ToArray(),
            "proportional" => sizes.Select(n => (double)Capped(n, limit)).ToArray(),
            // In log space: min(e, K)^(1/T) overflows for small T (2000^100), where the largest task should take everything.
            "temperature" => Tempered(sizes.Select(n => Math.Log(Capped(n, limit))).ToArray(), temperature),
            _ => throw new ArgumentException($"unknown mixing strategy '{strategy}'"),
        };
        double total = weights.Sum();
        return [.. weights.Select(w => w / total)];
    }

    static double[] Tempered(double[] logSizes, double temperature)
    {
        double max = logSizes.Max();
        return [.. logSizes.Select(l => Math.Exp((l - max) / temperature))];
    }

    /// <summary>Epoch <paramref name="epoch"/>'s draws (1-based): (task, example index) pairs, the same on every call.</summary>
    public IReadOnlyList<(int Task, int Index)> Epoch(int epoch)
    {
        while (epochs.Count < epoch) epochs.Add(Draw());
        return epochs[epoch - 1];
    }

    List<(int, int)> Draw()
    {
        var picks = new List<(int, int)>(EpochSize);
        for (int i = 0; i < EpochSize; i++)
        {
            double u = draw.NextDouble();
            int m = Array.FindIndex(cumulative, c => u < c);
            if (m < 0) m = sizes.Length - 1;   // u within rounding of 1
            if (next[m] == sizes[m]) { orders[m] = Shuffled(sizes[m], shufflers[m]); next[m] = 0; }
            picks.Add((m, orders[m][next[m]++]));
        }
        return picks;
    }

    static int[] Shuffled(int count, Random rng)
    {
        var order = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(order);
        return order;
    }
}
