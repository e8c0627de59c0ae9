using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PluginGpt.Core.Tokenization;

/// <summary>
/// llama2.c's tokenizer file (<c>tokenizer.bin</c>, <c>tok512.bin</c>, …): int32 max_token_length, then per piece float32
/// score, int32 byte length and the piece's UTF-8 bytes, little-endian, as many pieces as the model's vocab_size (the
/// file does not say). llama2.c's export writes SentencePiece's pieces with ▁ turned into plain spaces, BOS/EOS as
/// "\n&lt;s&gt;\n" / "\n&lt;/s&gt;\n", and byte-fallback pieces &lt;0x00&gt;…&lt;0xFF&gt; at ids 3–258.
/// </summary>
/// <remarks>
/// <para>run.c encodes by starting from a dummy-prefix " " piece plus one piece per UTF-8 character (or, for a character
/// without one, its bytes as ids byte + 3), then repeatedly merging the adjacent pair whose concatenated string is a
/// piece with the highest score, the leftmost on equal scores. <see cref="ToHuggingFace"/> expresses that as a Hugging
/// Face BPE: one merge for every way of cutting a piece into two pieces, ranked by the merged piece's score (higher
/// score = earlier merge; equal scores by id), so that <see cref="SentencePieceBpeTokenizer"/> gives the same ids.</para>
/// <para>Exact while no two different candidate pairs have equal scores (SentencePiece BPE scores are −(merge order), all
/// distinct: so in tok512.bin), since run.c breaks a tie by position and Hugging Face BPE by merge rank. A U+2581 (▁)
/// written in the text is a space piece here but three bytes in run.c; no prompt in practice holds one.</para>
/// </remarks>
public static class Llama2cTokenizerFile
{
    /// <summary>Reads <paramref name="vocabSize"/> pieces (text as in the file, spaces not yet ▁) and their scores.</summary>
    public static IReadOnlyList<(string Piece, float Score)> Read(string tokBinPath, int vocabSize)
    {
        var pieces = new List<(string, float)>(vocabSize);
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        try
        {
            using var reader = new BinaryReader(File.OpenRead(tokBinPath));
            int maxLength = reader.ReadInt32();
            for (int i = 0; i < vocabSize; i++)
            {
                float score = reader.ReadSingle();
                int length = reader.ReadInt32();
                if (length <= 0 || length > maxLength)
                    throw new FormatException($"piece {i} has length {length} (max_token_length {maxLength})");
                var bytes = reader.ReadBytes(length);
                if (bytes.Length != length) throw new EndOfStreamException();
                pieces.Add((strict.GetString(bytes), score));
            }
            if (reader.BaseStream.Position != reader.BaseStream.Length)
                throw new FormatException($"{reader.BaseStream.Length - reader.BaseStream.Position} bytes follow the {vocabSize} pieces; " +
                    "is the vocab_size right?");
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException)
        {
            var why = e is EndOfStreamException ? $"it ends before {vocabSize} pieces (vocab_size)" : e.Message;
            throw new CheckpointException($"{tokBinPath}: not a llama2.c tokenizer file: {why}", e);
        }
        return pieces;
    }

    /// <summary>Writes <paramref name="outDirectory"/>/tokenizer.json and tokenizer_config.json for the llama2.c tokenizer
    /// <paramref name="tokBinPath"/> of a model with <paramref name="vocabSize"/> tokens.</summary>
    public static void ConvertToHuggingFace(string tokBinPath, int vocabSize, string outDirectory)
    {
        var (tokenizerJson, configJson) = Convert(tokBinPath, vocabSize);
        Directory.CreateDirectory(outDirectory);
        AtomicFile.WriteAllText(Path.Combine(outDirectory, SentencePieceBpeTokenizer.TokenizerFile), tokenizerJson);
        AtomicFile.WriteAllText(Path.Combine(outDirectory, SentencePieceBpeTokenizer.ConfigFile), configJson);
    }

    /// <summary>The tokenizer.json and tokenizer_config.json texts for the llama2.c tokenizer <paramref name="tokBinPath"/>;
    /// anything that does not fit is an error naming the file.</summary>
    public static (string TokenizerJson, string ConfigJson) Convert(string tokBinPath, int vocabSize)
    {
        try { return ToHuggingFace(Read(tokBinPath, vocabSize)); }
        catch (FormatException e) { throw new CheckpointException($"{tokBinPath}: {e.Message}", e); }
    }

    static readonly string[] Specials = ["<unk>", "<s>", "</s>"];

    /// <summary>The tokenizer.json and tokenizer_config.json texts of <paramref name="pieces"/> (see the class remarks).</summary>
    public static (string TokenizerJson, string ConfigJson) ToHuggingFace(IReadOnlyList<(string Piece, float Score)> pieces)
    {
        var vocab = Vocabulary(pieces);
        var vocabJson = new JsonObject();
        foreach (var (name, id) in vocab) vocabJson[name] = id;
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray([.. Specials.Select((s, id) => (JsonNode)new JsonObject
            {
                ["id"] = id, ["content"] = s, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            })]),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = BosTemplate(),
            ["decoder"] = Decoder(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["ignore_merges"] = false,
                ["vocab"] = vocabJson,
                ["merges"] = new JsonArray([.. RankedMerges(pieces, vocab)]),
            },
        };
        var indented = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        return (tokenizer.ToJsonString(indented) + "\n", TokenizerConfig().ToJsonString(indented) + "\n");
    }

    /// <summary>Piece → id, the three specials under their names and spaces as ▁; the layout llama2.c writes is checked (specials,
    /// then the 256 byte pieces) and two ids for one piece refused.</summary>
    static Dictionary<string, int> Vocabulary(IReadOnlyList<(string Piece, float Score)> pieces)
    {
        if (pieces.Count < 259) throw new FormatException($"{pieces.Count} pieces: fewer than <unk>, <s>, </s> and 256 byte pieces");
        for (int b = 0; b < 256; b++)
            if (pieces[b + 3].Piece != ByteFallbackBpe.BytePiece((byte)b))
                throw new FormatException($"piece {b + 3} is '{pieces[b + 3].Piece}', not {ByteFallbackBpe.BytePiece((byte)b)}");
        var names = pieces.Select((p, id) => id < 3 ? Specials[id] : p.Piece.Replace(' ', '▁')).ToArray();
        var vocab = new Dictionary<string, int>();
        for (int id = 0; id < names.Length; id++)
            if (!vocab.TryAdd(names[id], id)) throw new FormatException($"pieces {vocab[names[id]]} and {id} are both '{names[id]}'");
        return vocab;
    }

    /// <summary>Every split of a piece into two known pieces is a merge, ranked by the merged piece's score (then id, then cut):
    /// SentencePiece's scores as BPE merge ranks.</summary>
    static IEnumerable<JsonNode> RankedMerges(IReadOnlyList<(string Piece, float Score)> pieces, Dictionary<string, int> vocab)
    {
        var merges = new List<(float Score, int Merged, int Cut, string Left, string Right)>();
        foreach (var (piece, id) in vocab)
        {
            if (id < 3) continue;
            for (int cut = 1; cut < piece.Length; cut++)
            {
                if (char.IsLowSurrogate(piece[cut])) continue;
                string left = piece[..cut], right = piece[cut..];
                if (vocab.TryGetValue(left, out int l) && l >= 3 && vocab.TryGetValue(right, out int r) && r >= 3)
                    merges.Add((pieces[id].Score, id, cut, left, right));
            }
        }
        return merges.OrderByDescending(m => m.Score).ThenBy(m => m.Merged).ThenBy(m => m.Cut)
            .Select(m => (JsonNode)new JsonArray(m.Left, m.Right));
    }

    /// <summary>▁ back to spaces, byte pieces to bytes, the leading space the normalizer added stripped.</summary>
    static JsonObject Decoder() => new()
    {
        ["type"] = "Sequence",
        ["decoders"] = new JsonArray(
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
            new JsonObject { ["type"] = "ByteFallback" },
            new JsonObject { ["type"] = "Fuse" },
            new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
    };

    static JsonObject TokenizerConfig() => new()
    {
        ["add_bos_token"] = true,
        ["add_eos_token"] = false,
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
        ["unk_token"] = "<unk>",
        ["clean_up_tokenization_spaces"] = false,
        ["tokenizer_class"] = "LlamaTokenizerFast",
    };

    /// <summary>Hugging Face Llama's post-processor (BOS before each sequence); PluginGpt reads add_bos_token instead.</summary>
    static JsonObject BosTemplate()
    {
        JsonObject Bos() => new() { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } };
        JsonObject Seq(string id, int type) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        return new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(Bos(), Seq("A", 0)),
            ["pair"] = new JsonArray(Bos(), Seq("A", 0), Bos(), Seq("B", 1)),
            ["special_tokens"] = new JsonObject
            {
                ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") },
            },
        };
    }
}
