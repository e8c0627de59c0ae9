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

        var learner = new MergeLearner(WordCounts(texts));
        while (learner.Tokens.Count < 256 + mergeCount && learner.MergeMostFrequentPair())
        {
            progress?.Report((learner.Tokens.Count - 256.0) / Math.Max(1, mergeCount));
            cancel.ThrowIfCancellationRequested();
        }
        var tokenizer = GptTokenizer.FromMerges(learner.Tokens, learner.Merges);
        tokenizer.Save(directory);
        return tokenizer;
    }

    /// <summary>How often each pre-tokenised word occurs.</summary>
    static Dictionary<string, long> WordCounts(IEnumerable<string> texts)
    {
        var wordCounts = new Dictionary<string, long>();
        foreach (var text in texts)
            foreach (Match m in PreTokenizer().Matches(text))
                wordCounts[m.Value] = wordCounts.GetValueOrDefault(m.Value) + 1;
        return wordCounts;
    }

    /// <summary>The merge loop's state: each distinct word as its current symbols, the count of every adjacent pair and the
    /// words holding it (so a merge revisits only those).</summary>
    sealed class MergeLearner
    {
        readonly List<int>[] words;
        readonly long[] counts;
        readonly Dictionary<(int, int), long> pairCounts = [];
        readonly Dictionary<(int, int), HashSet<int>> pairWords = [];
        readonly Dictionary<string, int> idOfBytes;

        public MergeLearner(Dictionary<string, long> wordCounts)
        {
            words = [.. wordCounts.Select(kv => Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList())];
            counts = [.. wordCounts.Values];
            for (int w = 0; w < words.Length; w++) AddPairs(w, +1);
            Tokens = [.. Enumerable.Range(0, 256).Select(b => new[] { (byte)b })];
            idOfBytes = Tokens.Select((t, i) => (Key: Convert.ToBase64String(t), i)).ToDictionary(x => x.Key, x => x.i);
        }

        /// <summary>Every token's bytes by id: the 256 bytes, then one per new merge result.</summary>
        public List<byte[]> Tokens { get; }
        public List<(int, int)> Merges { get; } = [];

        /// <summary>Merges the most frequent pair (ties: the smallest ids) everywhere; false when no pair occurs twice (the
        /// vocabulary then stays smaller).</summary>
        public bool MergeMostFrequentPair()
        {
            (int, int) best = default; long bestCount = 0;
            foreach (var (pair, c) in pairCounts)
                if (c > bestCount || (c == bestCount && c > 0 && pair.CompareTo(best) < 0)) { best = pair; bestCount = c; }
            if (bestCount < 2) return false;

            // Two different pairs can spell the same bytes ("ab"+"c", "a"+"bc"): they share one id.
            byte[] merged = [.. Tokens[best.Item1], .. Tokens[best.Item2]];
            if (!idOfBytes.TryGetValue(Convert.ToBase64String(merged), out int newId))
            {
                newId = Tokens.Count;
                Tokens.Add(merged);
                idOfBytes[Convert.ToBase64String(merged)] = newId;
            }
            Merges.Add(best);
            foreach (int w in pairWords[best].ToArray())
            {
                AddPairs(w, -1);
                var symbols = words[w];
                for (int i = 0; i < symbols.Count - 1; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2) { symbols[i] = newId; symbols.RemoveAt(i + 1); }
                AddPairs(w, +1);
            }
            return true;
        }

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
