using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace PluginGpt.Core.Tokenization;

/// <summary>
/// Byte-level BPE in GPT-2's file format (<c>vocab.json</c> + <c>merges.txt</c>). Encoding and decoding of ordinary
/// text is Microsoft.ML.Tokenizers' <see cref="TiktokenTokenizer"/> over the vocabulary's ranks (GPT-2's exact ids;
/// its CodeGenTokenizer is not exact: it maps runs of spaces and tabs to CodeGen's extra ids). This class adds the
/// special tokens of <see cref="SpecialTokens"/>, appending any the vocabulary lacks after its last id.
/// </summary>
public sealed class GptTokenizer : IModelTokenizer
{
    public const string VocabFile = "vocab.json";
    public const string MergesFile = "merges.txt";

    readonly TiktokenTokenizer bpe;
    readonly string vocabJson, mergesText;
    readonly Dictionary<string, int> specialIds;
    readonly Dictionary<int, string> specialById;
    readonly Regex specialSplitter;

    GptTokenizer(string vocabJson, string mergesText)
    {
        this.vocabJson = vocabJson;
        this.mergesText = mergesText;
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(vocabJson)!;
        bpe = RankedTokenizer(vocab);
        int next = vocab.Values.Max() + 1;
        specialIds = SpecialTokens.All.ToDictionary(s => s, s => vocab.TryGetValue(s, out int id) ? id : next++);
        specialById = specialIds.ToDictionary(kv => kv.Value, kv => kv.Key);
        VocabSize = next;
        OwnVocabSize = vocab.Values.Max() + 1;
        specialSplitter = new Regex("(" + string.Join("|", SpecialTokens.All.Select(Regex.Escape)) + ")");
    }

    /// <summary>The ids vocab.json itself defines (the special tokens appended after it excluded): a model's embedding must
    /// have at least as many rows, or this tokenizer belongs to another model.</summary>
    public int OwnVocabSize { get; }

    /// <summary>Refuses a tokenizer from another model (more tokens of its own than <paramref name="config"/>'s embedding has
    /// rows), which would index past the embedding inside LibTorch.</summary>
    public void CheckFits(GptConfig config, string tokenizerFolder)
    {
        if (OwnVocabSize > config.Vocab)
            throw new CheckpointException($"{Path.Combine(tokenizerFolder, "vocab.json")}: the tokenizer has {OwnVocabSize:N0} tokens " +
                $"but the model has {config.Vocab:N0} (vocab_size); it belongs to another model");
    }

    /// <summary>Ids 0 … VocabSize-1, special tokens included.</summary>
    public int VocabSize { get; }
    public int EndOfText => specialIds[SpecialTokens.EndOfText];
    public int Start => specialIds[SpecialTokens.Start];
    public int Delimiter => specialIds[SpecialTokens.Delimiter];
    public int Extract => specialIds[SpecialTokens.Extract];
    public int Pad => specialIds[SpecialTokens.Pad];
    public int SpecialId(string token) => specialIds[token];

    /// <summary>Token ids for <paramref name="text"/>; the exact strings of special tokens become their ids.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>();
        foreach (var piece in specialSplitter.Split(text))
        {
            if (piece.Length == 0) continue;
            if (specialIds.TryGetValue(piece, out int id)) ids.Add(id);
            else ids.AddRange(bpe.EncodeToIds(piece));
        }
        return [.. ids];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (int id in ids)
        {
            if (specialById.TryGetValue(id, out var special)) { Flush(); text.Append(special); }
            else if (id < 0 || id >= VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary of {VocabSize}");
            else run.Add(id);
        }
        Flush();
        return text.ToString();

        void Flush() { if (run.Count > 0) { text.Append(bpe.Decode(run)); run.Clear(); } }
    }

    public IReadOnlyList<string> Files => [VocabFile, MergesFile];

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, VocabFile), vocabJson);
        AtomicFile.WriteAllText(Path.Combine(directory, MergesFile), mergesText);
    }

    /// <summary>
    /// Tiktoken merges the pair whose result has the lowest rank; with ranks = ids and ids in merge order that is
    /// the merges file's order, so the merges list itself is only needed to train, not to encode.
    /// </summary>
    static TiktokenTokenizer RankedTokenizer(Dictionary<string, int> vocab)
    {
        var charToByte = new Dictionary<char, byte>();
        for (int b = 0; b < 256; b++) charToByte[ByteUnicode.ByteToChar[b]] = (byte)b;
        var ranks = new StringBuilder();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value))
        {
            if (SpecialTokens.All.Contains(token)) continue;
            ranks.Append(Convert.ToBase64String(token.Select(c => charToByte[c]).ToArray())).Append(' ').Append(id).Append('\n');
        }
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(ranks.ToString()));
        return TiktokenTokenizer.Create(stream, new RegexPreTokenizer(BpeTrainer.PreTokenizer(), null), normalizer: null);
    }

    /// <summary>Whether <paramref name="directory"/> holds tokenizer files (HF or OpenAI names).</summary>
    public static bool Exists(string directory) => FindFiles(directory) is not null;

    /// <summary>Loads <c>vocab.json</c> + <c>merges.txt</c> (or OpenAI's <c>encoder.json</c> + <c>vocab.bpe</c>).</summary>
    public static GptTokenizer Load(string directory)
    {
        var files = FindFiles(directory)
            ?? throw new UserInputException(
                $"{directory}: no tokenizer files (expected {VocabFile} + {MergesFile}, or encoder.json + vocab.bpe)");
        try { return new GptTokenizer(File.ReadAllText(files.Vocab), File.ReadAllText(files.Merges)); }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException or InvalidOperationException)
        {
            // Corrupt or hand-edited files: the user's to fix, so say which pair of files could not be read.
            throw new CheckpointException(
                $"{files.Vocab} / {Path.GetFileName(files.Merges)}: not a readable byte-level BPE vocabulary ({e.Message})");
        }
    }

    static (string Vocab, string Merges)? FindFiles(string directory)
    {
        foreach (var (v, m) in new[] { (VocabFile, MergesFile), ("encoder.json", "vocab.bpe") })
        {
            string vp = Path.Combine(directory, v), mp = Path.Combine(directory, m);
            if (File.Exists(vp) && File.Exists(mp)) return (vp, mp);
        }
        return null;
    }

    /// <summary>Builds the files from learned merges: 256 byte tokens, one token per merge, then the special tokens.</summary>
    internal static GptTokenizer FromMerges(IReadOnlyList<byte[]> tokens, IReadOnlyList<(int, int)> merges)
    {
        var vocab = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Count; i++) vocab[ByteUnicode.Encode(tokens[i])] = i;
        foreach (var s in SpecialTokens.All) vocab[s] = vocab.Count;
        var mergeLines = merges.Select(p => ByteUnicode.Encode(tokens[p.Item1]) + " " + ByteUnicode.Encode(tokens[p.Item2]));
        return new GptTokenizer(JsonSerializer.Serialize(vocab), "#version: 0.2\n" + string.Join("\n", mergeLines) + "\n");
    }
}
