using System.Text;
using System.Text.Json.Nodes;
using PluginGpt.Core.Tokenization;

namespace PluginGpt.Core.Tests;

/// <summary>
/// <see cref="SentencePieceBpeTokenizer"/> on stories260K's llama2.c tokenizer (Fixtures/llama-tokenizer/tok512.bin,
/// copied from /work/shared/models/stories260K), converted by <see cref="Llama2cTokenizerFile"/>, against
/// <see cref="RunC"/>: an independent transcription of llama2.c run.c's encode.
/// </summary>
public class LlamaTokenizerTests
{
    static readonly string TokBin = Path.Combine(AppContext.BaseDirectory, "Fixtures", "llama-tokenizer", "tok512.bin");
    static readonly (string TokenizerJson, string ConfigJson) Files =
        Llama2cTokenizerFile.ToHuggingFace(Llama2cTokenizerFile.Read(TokBin, 512));
    static readonly SentencePieceBpeTokenizer Tok = SentencePieceBpeTokenizer.FromJson(Files.TokenizerJson, Files.ConfigJson);

    static readonly string[] Texts =
    [
        "Once upon a time",
        "Lily wanted to",
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
        "Lily wanted to play with her friend Timmy, but he was very sad.",
        "One day, a big dog came to the park.",
        "\"I want to go home!\" said Tim.",
        "They were happy and played all day long.",
        "The sun was shining and the birds were singing.",
        "Mom said, \"Don't touch the hot stove.\"",
        "She saw a shiny red ball under the tree; it was hers.",
        "Ben and Sue found 3 apples, 12 pears and 100 grapes.",
        "What is your name?",
        "He ran — fast — to the café…",
        "naïve façade, jalapeño, über",
        "Zebras & koalas: (yes) [no] {maybe} ~50% #1 @home",
        "Hi 🤖🎉! 你好",
        "  two leading spaces, trailing   ",
        "line one\nline two\n\n\ttabbed",
        "a",
        " ",
        "the the the the theretherethere",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];

    public static readonly TheoryData<string> Sentences = new(Texts);

    [Theory]
    [MemberData(nameof(Sentences))]
    public void Encodes_as_llama2c_run_c_does(string text) => Assert.Equal(RunC(text), Tok.EncodeWithSpecialTokens(text));

    [Fact]
    public void Encodes_as_run_c_does_on_corpus_lines()
    {
        var lines = File.ReadAllLines(RepoPaths.Data("corpus", "tinyshakespeare.txt")).Where(l => l.Length > 0).Take(400);
        foreach (var line in lines) Assert.Equal(RunC(line), Tok.EncodeWithSpecialTokens(line));
    }

    [Fact]
    public void Known_ids_of_Once_upon_a_time()
    {
        // BOS, "▁Once" (403), "▁upon" (407), "▁a" (261), "▁time" (378): the pieces tok512.bin holds for these words.
        Assert.Equal(new[] { 1, 403, 407, 261, 378 }, Tok.EncodeWithSpecialTokens("Once upon a time"));
        Assert.Equal("▁Once", Tok.Piece(403));
    }

    [Theory]
    [MemberData(nameof(Sentences))]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\n")]
    [InlineData(" leading")]
    [InlineData("trailing ")]
    [InlineData("multiple    spaces  here")]
    [InlineData("Ünïcödé ✓ ∑ 𝔘 — \u00a0nbsp")]
    public void Round_trips(string text)
    {
        Assert.Equal(text, Tok.Decode(Tok.EncodeWithSpecialTokens(text)));
        Assert.Equal(text, Tok.Decode(RunC(text)));   // decodes what run.c would feed the model, too
    }

    [Fact]
    public void Characters_without_a_piece_fall_back_to_their_UTF8_bytes()
    {
        // 🤖 = F0 9F A4 96; byte b is piece <0xBB> at id b + 3.
        Assert.Equal(new[] { 1, 410, 0xF0 + 3, 0x9F + 3, 0xA4 + 3, 0x96 + 3 }, Tok.EncodeWithSpecialTokens("🤖"));
        Assert.Equal(new[] { 1, 410, 0x0A + 3 }, Tok.EncodeWithSpecialTokens("\n"));
        Assert.Equal("<0x0A>", Tok.Piece(13));
    }

    [Fact]
    public void BOS_is_prepended_and_the_space_after_it_dropped_in_decoding()
    {
        Assert.True(Tok.AddsBeginningOfText);
        Assert.Equal(1, Tok.BeginningOfText);
        Assert.Equal(new[] { 1 }, Tok.EncodeWithSpecialTokens(""));
        var prompt = Tok.EncodeWithSpecialTokens("Once upon a time");
        var continuation = Tok.EncodeWithSpecialTokens("there was")[1..];   // "▁there", "▁was"
        // Decoded together, the continuation's first ▁ is a space; alone, it would be the prefix of the text's start.
        Assert.Equal("there was", Tok.Decode(continuation));
        Assert.Equal("Once upon a time there was", Tok.Decode([.. prompt, .. continuation]));
        // EncodeStart is the text with its dummy prefix and no special token; Encode takes it literally.
        Assert.Equal(prompt[1..], Tok.EncodeStart("Once upon a time"));
        Assert.Equal("Once upon a time", Tok.Decode(Tok.EncodeStart("Once upon a time")));
        Assert.Equal("Once upon a time", Tok.Decode(Tok.Encode("Once upon a time")));
        Assert.Equal(1, Tok.BeginningOfSequence);
        // Segments put together as objectives do give the ids of the whole text: a space belongs to the piece it starts.
        int[] pieces = [.. Tok.EncodeStart("It was"), .. Tok.Encode(" great"), .. Tok.Encode("."), .. Tok.Encode(" Lily smiled.")];
        Assert.Equal(Tok.EncodeStart("It was great. Lily smiled."), pieces);
        Assert.NotEqual(Tok.Encode("."), Tok.EncodeStart("."));

        var noBos = Modified(config: c => c["add_bos_token"] = false);
        Assert.Equal(Tok.EncodeWithSpecialTokens("Once upon a time")[1..], noBos.EncodeWithSpecialTokens("Once upon a time"));
        Assert.Equal("Once upon a time", noBos.Decode(noBos.EncodeWithSpecialTokens("Once upon a time")));
        Assert.Null(noBos.BeginningOfSequence);
        var withEos = Modified(config: c => c["add_eos_token"] = true);
        Assert.Equal([.. Tok.EncodeWithSpecialTokens("Hi"), 2], withEos.EncodeWithSpecialTokens("Hi"));
    }

    [Fact]
    public void Added_and_special_tokens_are_matched_as_exact_strings()
    {
        Assert.Equal(new[] { 1, 2 }, Tok.EncodeWithSpecialTokens("</s>"));
        Assert.Equal(new[] { 1, 0 }, Tok.EncodeWithSpecialTokens("<unk>"));
        var ids = Tok.EncodeWithSpecialTokens("Hi</s><s>Lily<|start|>a<|delim|>b<|extract|><|pad|>");
        Assert.Equal([.. Tok.EncodeWithSpecialTokens("Hi"), 2, 1], ids[..(Tok.EncodeWithSpecialTokens("Hi").Length + 2)]);
        int a = Tok.EncodeWithSpecialTokens("a")[^1], b = Tok.EncodeWithSpecialTokens("b")[^1];
        Assert.Equal(new[] { Tok.Start, a, Tok.Delimiter, b, Tok.Extract, Tok.Pad }, ids[^6..]);
        // The legacy normalizer puts a ▁ before every stretch of text, also after a special token (as Hugging Face does).
        Assert.Equal(Tok.EncodeWithSpecialTokens("Lily")[1..], ids[(Tok.EncodeWithSpecialTokens("Hi").Length + 2)..^6]);
        Assert.Equal("Hi</s>Lily<|start|> a<|delim|> b<|extract|><|pad|>", Tok.Decode(ids));
        Assert.Equal("<", Tok.Decode(Tok.EncodeWithSpecialTokens("<")));   // a part of a special token's string is plain text
        Assert.Equal(2, Tok.SpecialId("</s>"));
    }

    [Fact]
    public void GPT1_special_tokens_are_appended_after_the_vocabulary()
    {
        Assert.Equal(512, Tok.OwnVocabSize);
        Assert.Equal(516, Tok.VocabSize);
        Assert.Equal(new[] { 512, 513, 514, 515 }, new[] { Tok.Start, Tok.Delimiter, Tok.Extract, Tok.Pad });
        Assert.Equal(2, Tok.EndOfText);   // </s>
        Assert.Equal(new[] { 1, 512 }, Tok.EncodeWithSpecialTokens(SpecialTokens.Start));
        Assert.Equal("<|pad|>", Tok.Decode([Tok.Pad]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([516]));

        Tok.CheckFits(new GptConfig { Vocab = 512 }, "m");
        var e = Assert.Throws<CheckpointException>(() => Tok.CheckFits(new GptConfig { Vocab = 256 }, "m"));
        Assert.Contains(Path.Combine("m", "tokenizer.json"), e.Message);
        Assert.Contains("vocab_size", e.Message);
    }

    [Fact]
    public void Merges_as_pairs_and_as_strings_load_identically()
    {
        var asStrings = Modified(json: j =>
        {
            var merges = j["model"]!["merges"]!.AsArray();
            Assert.IsType<JsonArray>(merges[0]);
            j["model"]!["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)($"{m![0]} {m[1]}"))]);
        });
        foreach (string text in Texts)
            Assert.Equal(Tok.EncodeWithSpecialTokens(text), asStrings.EncodeWithSpecialTokens(text));
    }

    [Fact]
    public void The_Metaspace_pre_tokenizer_encodes_as_the_legacy_normalizer()
    {
        var metaspace = Modified(json: j =>
        {
            j["normalizer"] = null;
            j["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Metaspace",
                ["replacement"] = "▁",
                ["prepend_scheme"] = "first",
                ["split"] = false,
            };
        });
        foreach (string text in Texts.Where(t => !t.StartsWith(' ')))
            Assert.Equal(Tok.EncodeWithSpecialTokens(text), metaspace.EncodeWithSpecialTokens(text));
        // Unlike the legacy normalizer: no second ▁ before text that starts with a space, none after a special token.
        Assert.Equal(new[] { 1, 261 }, metaspace.EncodeWithSpecialTokens(" a"));
        Assert.Equal(new[] { 1, 410, 261 }, Tok.EncodeWithSpecialTokens(" a"));   // "▁▁a"
        Assert.Equal(new[] { 1, 2, 412 }, metaspace.EncodeWithSpecialTokens("</s>a"));
        Assert.Equal("a", metaspace.Decode(metaspace.EncodeWithSpecialTokens(" a")));   // so one leading space is lost, as in Hugging Face
        Assert.Equal("Once upon a time", metaspace.Decode(metaspace.EncodeWithSpecialTokens("Once upon a time")));
    }

    [Fact]
    public void Converted_files_save_and_load_back()
    {
        using var dir = new TempDir();
        Assert.False(SentencePieceBpeTokenizer.Exists(dir.Path));
        Llama2cTokenizerFile.ConvertToHuggingFace(TokBin, 512, dir.Path);
        Assert.True(SentencePieceBpeTokenizer.Exists(dir.Path));
        var loaded = SentencePieceBpeTokenizer.Load(dir.Path);
        using var again = new TempDir();
        loaded.Save(again.Path);
        Assert.Equal(File.ReadAllText(dir["tokenizer.json"]), File.ReadAllText(again["tokenizer.json"]));
        var reloaded = SentencePieceBpeTokenizer.Load(again.Path);
        foreach (string text in Texts) Assert.Equal(Tok.EncodeWithSpecialTokens(text), reloaded.EncodeWithSpecialTokens(text));

        File.Delete(again["tokenizer_config.json"]);   // without a config: Llama's defaults (BOS, no EOS)
        Assert.Equal(Tok.EncodeWithSpecialTokens("Hi"), SentencePieceBpeTokenizer.Load(again.Path).EncodeWithSpecialTokens("Hi"));
    }

    [Fact]
    public void A_byte_level_folder_that_splits_text_otherwise_than_GPT2_is_refused()
    {
        // Qwen2 ships vocab.json + merges.txt beside a tokenizer.json whose normalizer and split differ from GPT-2's.
        using var dir = new TempDir();
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(RepoPaths.Data("tokenizers", "en-4k", file), dir[file]);
        File.WriteAllText(dir["tokenizer.json"], """{"normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "Sequence"}}""");
        var e = Assert.Throws<CheckpointException>(() => ModelTokenizer.Load(dir.Path));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("normalizer", e.Message);
        File.WriteAllText(dir["tokenizer.json"], """{"normalizer": null, "pre_tokenizer": {"type": "ByteLevel"}}""");
        Assert.IsType<GptTokenizer>(ModelTokenizer.Load(dir.Path));
    }

    [Fact]
    public void Files_that_are_not_SentencePiece_BPE_are_refused_naming_the_file()
    {
        using var dir = new TempDir();
        var wordPiece = Files.TokenizerJson.Replace("\"type\": \"BPE\"", "\"type\": \"WordPiece\"", StringComparison.Ordinal);
        foreach (var bad in new[]
        {
            wordPiece,
            Files.TokenizerJson[..1000],
            Files.TokenizerJson.Replace("\"▁t\": 259", "\"▁t\": \"x\"", StringComparison.Ordinal),
            Files.TokenizerJson.Replace("\"▁t\": 259", "\"▁tt\": 259", StringComparison.Ordinal),   // merges name a piece not there
            """{"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": {"type": "NFKC"}}""",
        })
        {
            File.WriteAllText(dir["tokenizer.json"], bad);
            var e = Assert.Throws<CheckpointException>(() => SentencePieceBpeTokenizer.Load(dir.Path));
            Assert.Contains(dir["tokenizer.json"], e.Message);
        }
        Assert.Contains("WordPiece", Record(wordPiece));

        var tooMany = Assert.Throws<CheckpointException>(() => Llama2cTokenizerFile.Read(TokBin, 600));
        Assert.Contains(TokBin, tooMany.Message);
        Assert.Throws<CheckpointException>(() => Llama2cTokenizerFile.Read(TokBin, 400));   // bytes left over

        static string Record(string json) =>
            Assert.Throws<CheckpointException>(() => SentencePieceBpeTokenizer.FromJson(json, null)).Message;
    }

    [Fact]
    public void Merge_loop_agrees_with_Microsoft_ML_Tokenizers_BPE_where_no_byte_fallback_is_needed()
    {
        // Microsoft's BpeTokenizer, given Llama's normalizer and the whole text as one word, merges as ByteFallbackBpe does;
        // it has no byte fallback (why ByteFallbackBpe exists): a character without a piece becomes <unk>, not its bytes.
        var model = JsonNode.Parse(Files.TokenizerJson)!["model"]!;
        var library = Microsoft.ML.Tokenizers.BpeTokenizer.Create(new(
            model["vocab"]!.AsObject().Select(kv => new KeyValuePair<string, int>(kv.Key, (int)kv.Value!)))
        {
            Merges = [.. model["merges"]!.AsArray().Select(m => $"{m![0]} {m[1]}")],
            UnknownToken = "<unk>",
            Normalizer = new LlamaNormalizer(),
            PreTokenizer = new WholeText(),
        });
        var lines = File.ReadAllLines(RepoPaths.Data("corpus", "tinyshakespeare.txt")).Where(l => l.Length > 0).Take(2000);
        foreach (var text in Texts.Concat(lines).Where(t => !Tok.EncodeWithSpecialTokens(t).Any(id => id is >= 3 and < 259)))
            Assert.Equal(Tok.EncodeWithSpecialTokens(text)[1..], library.EncodeToIds(text));
        Assert.Equal(new[] { 410, 0 }, library.EncodeToIds("🤖"));
    }

    sealed class LlamaNormalizer : Microsoft.ML.Tokenizers.Normalizer
    {
        public override string Normalize(string original) => original.Length == 0 ? "" : "▁" + original.Replace(' ', '▁');
        public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
    }

    sealed class WholeText : Microsoft.ML.Tokenizers.PreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => text.Length == 0 ? [] : [(0, text.Length)];
        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());
    }

    static SentencePieceBpeTokenizer Modified(Action<JsonObject>? json = null, Action<JsonObject>? config = null)
    {
        var j = JsonNode.Parse(Files.TokenizerJson)!.AsObject();
        var c = JsonNode.Parse(Files.ConfigJson)!.AsObject();
        json?.Invoke(j);
        config?.Invoke(c);
        return SentencePieceBpeTokenizer.FromJson(j.ToJsonString(), c.ToJsonString());
    }

    // ---- llama2.c run.c's encode (bos = 1, eos = 0), transcribed independently of the classes under test. ----

    static readonly (string[] Pieces, float[] Scores) RunCVocab = ReadRaw();
    static readonly Dictionary<string, int> RunCLookup =
        RunCVocab.Pieces.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);

    static (string[], float[]) ReadRaw()
    {
        using var r = new BinaryReader(File.OpenRead(TokBin));
        r.ReadInt32();   // max_token_length
        var pieces = new string[512];
        var scores = new float[512];
        for (int i = 0; i < 512; i++)
        {
            scores[i] = r.ReadSingle();
            pieces[i] = Encoding.UTF8.GetString(r.ReadBytes(r.ReadInt32()));
        }
        return (pieces, scores);
    }

    static int[] RunC(string text)
    {
        var tokens = new List<int> { 1 };
        if (text.Length > 0) tokens.Add(RunCLookup[" "]);   // add_dummy_prefix
        foreach (var rune in text.EnumerateRunes())
        {
            if (RunCLookup.TryGetValue(rune.ToString(), out int id)) tokens.Add(id);
            else foreach (byte b in Encoding.UTF8.GetBytes(rune.ToString())) tokens.Add(b + 3);   // byte fallback
        }
        while (true)
        {
            float best = -1e10f;
            int bestId = -1, bestIdx = -1;
            for (int i = 0; i < tokens.Count - 1; i++)
                if (RunCLookup.TryGetValue(RunCVocab.Pieces[tokens[i]] + RunCVocab.Pieces[tokens[i + 1]], out int id)
                    && RunCVocab.Scores[id] > best)
                    (best, bestId, bestIdx) = (RunCVocab.Scores[id], id, i);
            if (bestIdx == -1) break;
            tokens[bestIdx] = bestId;
            tokens.RemoveAt(bestIdx + 1);
        }
        return [.. tokens];
    }
}
