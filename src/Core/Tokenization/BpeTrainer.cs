using System.Text;
using System.Text.RegularExpressions;

namespace PluginGpt.Core.Tokenization;

/// <summary>
/// Learns byte-level BPE merges from a corpus (256 byte tokens + merges + special tokens = vocabulary size).
/// Written here because Microsoft.ML.Tokenizers can load and apply GPT-2 merges but cannot learn them.
/// Counting is incremental: after each merge only the words that contain the merged pair are revisited.
/// </summary>
public static partial class BpeTrainer
{
    /// <summary>GPT-2's pre-tokenisation: merges never cross these word boundaries.</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    public static partial Regex PreTokenizer();

    /// <summary>Trains merges and writes <c>vocab.json</c> + <c>merges.txt</c> into <paramref name="directory"/>.</summary>
    public static GptTokenizer Train(IEnumerable<string> texts, int vocabSize, string directory, IProgress<double>? progress = null,
        CancellationToken cancel = default)
    {
        int mergeCount = vocabSize - 256 - SpecialTokens.All.Count;
        if (mergeCount < 0)
            throw new OptionsException($"vocabulary size must be at least {256 + SpecialTokens.All.Count}, got {vocabSize}");

        var wordCounts = new Dictionary<string, long>();
        foreach (var text in texts)
            foreach (Match m in PreTokenizer().Matches(text))
                wordCounts[m.Value] = wordCounts.GetValueOrDefault(m.Value) + 1;

        var words = wordCounts.Select(kv => Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList()).ToArray();
        var counts = wordCounts.Values.ToArray();
        var pairCounts = new Dictionary<(int, int), long>();
        var pairWords = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Length; w++) AddPairs(w, +1);

        var tokens = Enumerable.Range(0, 256).Select(b => new[] { (byte)b }).ToList();
        var idOfBytes = tokens.Select((t, i) => (Key: Convert.ToBase64String(t), i)).ToDictionary(x => x.Key, x => x.i);
        var merges = new List<(int, int)>();
        int targetTokens = 256 + mergeCount;
        while (tokens.Count < targetTokens)
        {
            (int, int) best = default; long bestCount = 0;
            foreach (var (pair, c) in pairCounts)
                if (c > bestCount || (c == bestCount && c > 0 && pair.CompareTo(best) < 0)) { best = pair; bestCount = c; }
            if (bestCount < 2) break;   // nothing left worth merging: the vocabulary stays smaller

            // Two different pairs can spell the same bytes ("ab"+"c", "a"+"bc"): they share one id.
            byte[] merged = [.. tokens[best.Item1], .. tokens[best.Item2]];
            if (!idOfBytes.TryGetValue(Convert.ToBase64String(merged), out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                idOfBytes[Convert.ToBase64String(merged)] = newId;
            }
            merges.Add(best);
            foreach (int w in pairWords[best].ToArray())
            {
                AddPairs(w, -1);
                var symbols = words[w];
                for (int i = 0; i < symbols.Count - 1; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2) { symbols[i] = newId; symbols.RemoveAt(i + 1); }
                AddPairs(w, +1);
            }
            progress?.Report((tokens.Count - 256.0) / Math.Max(1, mergeCount));
            cancel.ThrowIfCancellationRequested();
        }

        var tokenizer = GptTokenizer.FromMerges(tokens, merges);
        tokenizer.Save(directory);
        return tokenizer;

        void AddPairs(int w, int sign)
        {
            var s = words[w];
            for (int i = 0; i < s.Count - 1; i++)
            {
                var pair = (s[i], s[i + 1]);
                long c = pairCounts.GetValueOrDefault(pair) + sign * counts[w];
                if (c == 0) pairCounts.Remove(pair); else pairCounts[pair] = c;
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(pair, out var set)) pairWords[pair] = set = [];
                    set.Add(w);
                }
            }
        }
    }
}
