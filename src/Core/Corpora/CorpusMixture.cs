using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Corpora;

/// <summary>
/// Several token streams, each split into its own train and held-out parts, sampled by weight: each row of a training batch
/// first draws its corpus (probability = weight / sum of weights), then a window inside it. Draws come from a generator seeded
/// by (seed, step), so step N's batch is the same in a fresh run and a resumed one.
/// </summary>
public sealed class CorpusMixture
{
    public IReadOnlyList<CorpusSource> Sources { get; }
    public IReadOnlyList<TokenDataset> Parts { get; }
    public double[] Probabilities { get; }

    public CorpusMixture(IReadOnlyList<CorpusSource> sources, IReadOnlyList<int[]> tokens, double validationFraction)
    {
        if (sources.Count != tokens.Count || sources.Count == 0) throw new ArgumentException("one token stream per corpus");
        Sources = sources;
        Parts = [.. tokens.Select(t => new TokenDataset(t, validationFraction))];
        Probabilities = CorpusSource.Probabilities(sources);
    }

    public long TrainTokens => Parts.Sum(p => (long)p.Train.Length);

    /// <summary>Index of the corpus a uniform draw <paramref name="u"/> in [0, 1) falls into (inverse of the cumulative weights).</summary>
    public int CorpusOf(double u)
    {
        double cumulative = 0;
        for (int i = 0; i < Probabilities.Length - 1; i++)
        {
            cumulative += Probabilities[i];
            if (u < cumulative) return i;
        }
        return Probabilities.Length - 1;
    }

    /// <summary>A training batch ([batch, block] inputs and next-token targets) for optimizer step <paramref name="step"/>.</summary>
    public (Tensor Inputs, Tensor Targets) TrainBatch(int step, int batchSize, int block, int seed, Device device)
    {
        // One corpus: exactly the single-stream batches (no corpus draw), so one-corpus runs keep their data order.
        if (Parts.Count == 1) return Parts[0].Batch(false, step, batchSize, block, seed, device);
        var x = new long[batchSize * block];
        var y = new long[batchSize * block];
        var draws = Draws(step, batchSize, block, seed);
        for (int b = 0; b < batchSize; b++)
        {
            var (corpus, start) = draws[b];
            var source = Parts[corpus].Train;
            for (int t = 0; t < block; t++) { x[b * block + t] = source[start + t]; y[b * block + t] = source[start + t + 1]; }
        }
        return (torch.tensor(x, [batchSize, block], device: device), torch.tensor(y, [batchSize, block], device: device));
    }

    /// <summary>The corpus each row of step <paramref name="step"/>'s batch is drawn from (what <see cref="TrainBatch"/> uses).</summary>
    public int[] RowCorpora(int step, int batchSize, int block, int seed) =>
        Parts.Count == 1 ? new int[batchSize] : [.. Draws(step, batchSize, block, seed).Select(d => d.Corpus)];

    /// <summary>Each row's corpus (by weight) and window start, from a generator seeded by (seed, step).</summary>
    (int Corpus, int Start)[] Draws(int step, int batchSize, int block, int seed)
    {
        var rng = new Random(TokenDataset.StableSeed(seed, 5, step));
        var draws = new (int, int)[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            int corpus = CorpusOf(rng.NextDouble());
            var source = Parts[corpus].Train;
            if (source.Length <= block + 1) throw new DataException($"a training split has {source.Length} tokens, fewer than one " +
                $"block of {block + 1}: use a larger corpus or a smaller context");
            draws[b] = (corpus, rng.Next(0, source.Length - block - 1));
        }
        return draws;
    }
}
