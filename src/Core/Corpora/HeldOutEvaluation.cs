using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Core.Corpora;

/// <summary>A language model's loss on one corpus: mean next-token cross-entropy over every token of the stream.</summary>
public sealed record HeldOutLoss(string Corpus, long Tokens, double Loss)
{
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>
/// Next-token loss over a token stream cut into consecutive, non-overlapping windows of <c>block + 1</c> tokens (the last,
/// shorter one included), so every token after the first of its window is predicted exactly once, in a fixed order: the same
/// number on every run and machine, which is what a shipped model's card can quote and a test can reproduce.
/// </summary>
public static class HeldOutEvaluation
{
    public static HeldOutLoss Evaluate(Decoder model, string corpus, int[] tokens, int block, int batchSize = 8, long maxTokens = 0)
    {
        if (maxTokens > 0 && tokens.Length > maxTokens) tokens = tokens[..(int)maxTokens];
        var windows = new List<int[]>();
        for (int start = 0; start + 1 < tokens.Length; start += block)
            windows.Add(tokens[start..Math.Min(tokens.Length, start + block + 1)]);
        if (windows.Count == 0) throw new DataException($"{corpus}: fewer than two tokens to evaluate");
        using var _ = torch.no_grad();
        model.eval();
        double sum = 0;
        long count = 0;
        var device = model.parameters().First().device;
        foreach (var batch in windows.Chunk(batchSize))
        {
            using var scope = torch.NewDisposeScope();
            int width = batch.Max(w => w.Length) - 1;
            var x = new long[batch.Length * width];
            var y = Enumerable.Repeat(-1L, batch.Length * width).ToArray();   // -1: padding, ignored by the loss
            for (int b = 0; b < batch.Length; b++)
                for (int t = 0; t + 1 < batch[b].Length; t++) { x[b * width + t] = batch[b][t]; y[b * width + t] = batch[b][t + 1]; }
            var hidden = model.Forward(torch.tensor(x, [batch.Length, width], device: device));
            sum += model.LanguageModelLossSum(hidden, torch.tensor(y, [batch.Length, width], device: device)).Sum.item<float>();
            count += y.Count(v => v >= 0);
        }
        return new HeldOutLoss(corpus, count, sum / count);
    }
}
