using System.Text;

namespace PluginGpt.Core.Tokenization;

/// <summary>
/// The merge loop of a Hugging Face <c>tokenizers</c> BPE model with <c>byte_fallback: true</c>, as SentencePiece-derived
/// (Llama-family) <c>tokenizer.json</c> files use it. A word starts as one symbol per Unicode character (its vocabulary id,
/// or else one <c>&lt;0xNN&gt;</c> piece per byte of its UTF-8, or else the unknown token); then, while some adjacent pair
/// is in the merges list, the pair of lowest rank (earliest in the list) merges, the leftmost on equal ranks.
/// </summary>
/// <remarks>
/// Written here rather than taken from Microsoft.ML.Tokenizers 2.0.1. Its <c>BpeTokenizer.Create(BpeOptions)</c>, given
/// a custom <c>Normalizer</c> (Llama's ▁ prefix and spaces → ▁) and a <c>PreTokenizer</c> returning the whole text as one
/// word, merges exactly as this class does (LlamaTokenizerTests checks it), but <c>BpeOptions</c> has no byte fallback:
/// a character without a piece (🤖, or a newline in stories260K's vocabulary) becomes one unknown-token id, never the
/// <c>&lt;0xNN&gt;</c> pieces of its UTF-8 bytes, so Llama's ids cannot be reproduced. (Left null, its pre-tokenizer
/// also cuts ▁ off the word, so no ▁-prefixed piece ever forms.) Its <c>SentencePieceTokenizer</c>/<c>LlamaTokenizer</c>
/// do have byte fallback but read only a SentencePiece <c>.model</c> protobuf (pieces with scores), not a
/// <c>tokenizer.json</c>'s vocabulary and merges list.
/// </remarks>
sealed class ByteFallbackBpe
{
    readonly IReadOnlyDictionary<string, int> vocab;
    readonly Dictionary<long, (int Rank, int Merged)> merges = [];
    readonly int[] byteIds;
    readonly int? unknownId;
    readonly bool fuseUnknown, ignoreMerges;

    /// <param name="vocab">Piece → id.</param>
    /// <param name="mergePairs">The merges, first = highest priority; each side and their concatenation must be pieces.</param>
    /// <param name="unknownToken">Where a character has neither a piece nor byte pieces; null: such text cannot be encoded.</param>
    public ByteFallbackBpe(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> mergePairs,
        string? unknownToken, bool byteFallback, bool fuseUnknown, bool ignoreMerges)
    {
        this.vocab = vocab;
        this.fuseUnknown = fuseUnknown;
        this.ignoreMerges = ignoreMerges;
        for (int rank = 0; rank < mergePairs.Count; rank++)
        {
            var (left, right) = mergePairs[rank];
            int a = Id(left, $"merge {rank} ('{left}' '{right}')"), b = Id(right, $"merge {rank} ('{left}' '{right}')");
            int merged = Id(left + right, $"merge {rank}: the merged piece '{left + right}'");
            merges.TryAdd(Key(a, b), (rank, merged));
        }
        byteIds = new int[256];
        for (int b = 0; b < 256; b++) byteIds[b] = byteFallback && vocab.TryGetValue(BytePiece((byte)b), out int id) ? id : -1;
        if (unknownToken is not null) unknownId = Id(unknownToken, "unk_token");
    }

    int Id(string piece, string what) =>
        vocab.TryGetValue(piece, out int id) ? id : throw new FormatException($"{what}: '{piece}' is not in the vocabulary");

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>The byte-fallback piece of <paramref name="b"/>: <c>&lt;0x0A&gt;</c> for a newline.</summary>
    public static string BytePiece(byte b) => $"<0x{b:X2}>";

    /// <summary>Appends the ids of one pre-tokenized word to <paramref name="ids"/>.</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0) return;
        if (ignoreMerges && vocab.TryGetValue(word, out int whole)) { ids.Add(whole); return; }
        var symbols = Symbols(word);
        Merge(symbols);
        foreach (int id in symbols) if (id >= 0) ids.Add(id);
    }

    List<int> Symbols(string word)
    {
        var symbols = new List<int>(word.Length);
        Span<byte> utf8 = stackalloc byte[4];
        bool lastUnknown = false;
        foreach (var rune in word.EnumerateRunes())
        {
            var text = rune.ToString();
            if (vocab.TryGetValue(text, out int id)) { symbols.Add(id); lastUnknown = false; continue; }
            int n = rune.EncodeToUtf8(utf8);
            bool allBytes = true;
            for (int i = 0; i < n; i++) allBytes &= byteIds[utf8[i]] >= 0;
            if (allBytes)
            {
                for (int i = 0; i < n; i++) symbols.Add(byteIds[utf8[i]]);
                lastUnknown = false;
                continue;
            }
            int unk = unknownId ?? throw new ArgumentException(
                $"the character U+{rune.Value:X4} has no piece, no byte pieces and the tokenizer has no unknown token");
            if (!(fuseUnknown && lastUnknown)) symbols.Add(unk);
            lastUnknown = true;
        }
        return symbols;
    }

    /// <summary>Merges in place; merged-away symbols become -1. Same order as <c>tokenizers</c>' Word::merge_all: a queue of
    /// candidate pairs by (rank, position), each popped pair checked to be still adjacent and unchanged.</summary>
    void Merge(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2) return;
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
        var queue = new PriorityQueue<(int Pos, int Merged), (int Rank, int Pos)>();
        for (int i = 0; i + 1 < n; i++) Offer(i, i + 1);
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (symbols[pos] < 0 || next[pos] < 0) continue;
            int right = next[pos];
            if (!merges.TryGetValue(Key(symbols[pos], symbols[right]), out var m) || m.Merged != top.Merged) continue;
            symbols[pos] = m.Merged;
            symbols[right] = -1;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0) Offer(prev[pos], pos);
            if (next[pos] >= 0) Offer(pos, next[pos]);
        }

        void Offer(int left, int right)
        {
            if (merges.TryGetValue(Key(symbols[left], symbols[right]), out var m)) queue.Enqueue((left, m.Merged), (m.Rank, left));
        }
    }

    /// <summary>The text of <paramref name="pieces"/>: byte pieces become their bytes, the others their UTF-8; invalid UTF-8
    /// (a character cut by the end of the ids) becomes U+FFFD.</summary>
    public static string Concatenate(IEnumerable<string> pieces)
    {
        var bytes = new List<byte>();
        foreach (var piece in pieces)
        {
            if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
                bytes.Add(b);
            else bytes.AddRange(Encoding.UTF8.GetBytes(piece));
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
