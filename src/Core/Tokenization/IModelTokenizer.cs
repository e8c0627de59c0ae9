namespace PluginGpt.Core.Tokenization;

/// <summary>A tokenizer as the host handles one beside a model: it checks that it fits the model's embedding, writes its own files,
/// and says which they are. GPT-2's byte-level BPE (<see cref="GptTokenizer"/>) and the Llama family's SentencePiece BPE
/// (<see cref="SentencePieceBpeTokenizer"/>) are the two kinds.</summary>
public interface IModelTokenizer : ITokenizer
{
    /// <summary>Ids the tokenizer's own files define (PluginGpt's appended special tokens excluded).</summary>
    int OwnVocabSize { get; }
    /// <summary>Refuses (one line naming the file) a tokenizer with more ids of its own than the model's vocab_size.</summary>
    void CheckFits(GptConfig config, string folder);
    void Save(string directory);
    /// <summary>The file names <see cref="Save"/> writes.</summary>
    IReadOnlyList<string> Files { get; }
}

/// <summary>Finds and loads the tokenizer of a model folder.</summary>
public static class ModelTokenizer
{
    /// <summary>GPT-2's <c>vocab.json</c> + <c>merges.txt</c> when present (Hugging Face GPT-2 folders also carry a byte-level
    /// tokenizer.json, which these files equal), else a SentencePiece-style <c>tokenizer.json</c>.</summary>
    public static IModelTokenizer Load(string directory)
    {
        if (GptTokenizer.Exists(directory))
        {
            CheckByteLevelLikeGpt2(Path.Combine(directory, SentencePieceBpeTokenizer.TokenizerFile));
            return GptTokenizer.Load(directory);
        }
        if (SentencePieceBpeTokenizer.Exists(directory)) return SentencePieceBpeTokenizer.Load(directory);
        throw new UserInputException($"{directory}: no tokenizer files (expected {GptTokenizer.VocabFile} + {GptTokenizer.MergesFile}, " +
            $"encoder.json + vocab.bpe, or {SentencePieceBpeTokenizer.TokenizerFile})");
    }

    /// <summary>Qwen2 and SmolLM2 ship vocab.json + merges.txt too, but split text by other rules (their tokenizer.json's
    /// normalizer and pre_tokenizer): GPT-2's split would give other ids without a word, so such a folder is refused.</summary>
    static void CheckByteLevelLikeGpt2(string tokenizerJson)
    {
        if (!File.Exists(tokenizerJson)) return;
        System.Text.Json.Nodes.JsonNode? root;
        try { root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(tokenizerJson)); }
        catch (System.Text.Json.JsonException e) { throw new CheckpointException($"{tokenizerJson}: {e.Message}"); }
        if (root?["normalizer"] is { } normalizer)
            throw new CheckpointException(
                $"{tokenizerJson}: normalizer {normalizer["type"]}: only GPT-2's byte-level BPE (no normalizer) is read");
        var pre = root?["pre_tokenizer"];
        if (pre is not null && pre["type"]?.ToString() != "ByteLevel")
            throw new CheckpointException($"{tokenizerJson}: pre_tokenizer {pre["type"]}: only GPT-2's byte-level split is read");
    }

    public static bool Exists(string directory) => GptTokenizer.Exists(directory) || SentencePieceBpeTokenizer.Exists(directory);
}
