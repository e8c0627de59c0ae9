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
        if (GptTokenizer.Exists(directory)) return GptTokenizer.Load(directory);
        if (SentencePieceBpeTokenizer.Exists(directory)) return SentencePieceBpeTokenizer.Load(directory);
        throw new UserInputException($"{directory}: no tokenizer files (expected {GptTokenizer.VocabFile} + {GptTokenizer.MergesFile}, " +
            $"encoder.json + vocab.bpe, or {SentencePieceBpeTokenizer.TokenizerFile})");
    }

    public static bool Exists(string directory) => GptTokenizer.Exists(directory) || SentencePieceBpeTokenizer.Exists(directory);
}
