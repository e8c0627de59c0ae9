using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PluginGpt.Core.Tokenization;

/// <summary>
/// The tokenizer of Llama-family models: SentencePiece BPE with byte fallback, read from a Hugging Face
/// <c>tokenizer.json</c> (model.type "BPE", <c>byte_fallback: true</c>, the Llama normalizer <c>Prepend("▁")</c> +
/// <c>Replace(" ", "▁")</c> or the Metaspace pre-tokenizer) and an optional <c>tokenizer_config.json</c>
/// (<c>add_bos_token</c>, default true as for Llama; <c>add_eos_token</c>; <c>bos_token</c>; <c>eos_token</c>).
/// </summary>
/// <remarks>
/// <para>Encoding: the text, cut at the exact strings of the added tokens (&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, …) and of PluginGpt's
/// special tokens, which become their ids; each stretch in between is normalized (a ▁ before it, spaces → ▁) and BPE-merged by
/// <see cref="ByteFallbackBpe"/>. <see cref="Encode"/> takes the text literally (no dummy ▁ prefix: pieces that continue other
/// text concatenate as GPT-2's do); <see cref="EncodeStart"/> puts the dummy prefix first, as a sequence or a segment after a
/// special token starts; <see cref="EncodeWithSpecialTokens"/> adds the BOS id when add_bos_token and the EOS id when
/// add_eos_token, with Hugging Face's exact ids.</para>
/// <para>Relation to llama2.c's run.c, whose prompt is BOS + a dummy-prefix " " piece + the text's characters: with a
/// tokenizer converted by <see cref="Llama2cTokenizerFile"/>, <see cref="EncodeWithSpecialTokens"/> gives the same ids (the
/// prepended ▁ is that dummy prefix; the ▁ pieces are run.c's " " pieces). Two differences: run.c adds no dummy prefix to
/// empty text (nor do we: an empty stretch gets no ▁, so "" encodes to BOS alone); and run.c does not recognise "&lt;s&gt;" or
/// "&lt;/s&gt;" written in the text, which here become the BOS/EOS ids (as in Hugging Face).</para>
/// <para>Decoding: ▁ → space, &lt;0xNN&gt; pieces → their bytes, the BOS id → nothing, other added/special tokens → their
/// strings. The one space that encoding's prepended ▁ becomes is dropped where that ▁ was put: at the very start and right
/// after a BOS id (as llama2.c's decode does: "if the previous token is BOS, strip the piece's leading space"). So
/// <c>Decode(Encode(text)) == text</c> (but for text that starts with a space under the Metaspace pre-tokenizer, which puts no
/// ▁ before it: its first space is dropped, as in Hugging Face); a continuation's text is the decoded whole minus the decoded
/// prompt, not the continuation decoded alone (whose first space would be taken for the prefix).</para>
/// </remarks>
public sealed class SentencePieceBpeTokenizer : IModelTokenizer
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";

    readonly string tokenizerJson, configJson;
    readonly ByteFallbackBpe bpe;
    readonly SentencePieceText text;
    readonly Dictionary<string, int> specialIds = [];
    readonly Dictionary<int, string> pieces = [];
    readonly HashSet<int> verbatim = [];
    readonly Regex specialSplitter;
    readonly int? bos, eos;
    readonly bool addBos, addEos;
    readonly char meta;

    SentencePieceBpeTokenizer(string tokenizerJson, string? configJson)
    {
        var file = HuggingFaceBpeFile.Parse(tokenizerJson, configJson);
        this.tokenizerJson = tokenizerJson;
        this.configJson = configJson ?? DefaultConfig(file);
        bpe = file.Model;
        text = file.Text;
        meta = text.Metaspace ?? '▁';
        foreach (var (piece, id) in file.Vocab) pieces[id] = piece;
        foreach (var t in file.AddedTokens) { pieces[t.Id] = t.Content; specialIds[t.Content] = t.Id; verbatim.Add(t.Id); }
        OwnVocabSize = pieces.Count == 0 ? 0 : pieces.Keys.Max() + 1;
        addBos = file.AddBos;
        addEos = file.AddEos;
        bos = file.BosToken is null ? null : Id(file.BosToken);
        eos = file.EosToken is null ? null : Id(file.EosToken);

        int next = OwnVocabSize;
        var own = eos is null ? SpecialTokens.All : SpecialTokens.All.Where(s => s != SpecialTokens.EndOfText);
        foreach (var s in own)
        {
            int id = file.Vocab.TryGetValue(s, out int existing) ? existing : specialIds.TryGetValue(s, out existing) ? existing : next++;
            specialIds[s] = id;
            pieces[id] = s;
            verbatim.Add(id);
        }
        VocabSize = next;
        EndOfText = eos ?? specialIds[SpecialTokens.EndOfText];
        specialSplitter = new Regex("(" + string.Join("|", specialIds.Keys.OrderByDescending(s => s.Length).Select(Regex.Escape)) + ")");

        int Id(string token) => file.Vocab.TryGetValue(token, out int id) ? id : specialIds[token];
    }

    /// <summary>The ids tokenizer.json itself defines (vocabulary and added tokens; PluginGpt's special tokens appended after
    /// them excluded): a model's embedding must have at least as many rows, or this tokenizer belongs to another model.</summary>
    public int OwnVocabSize { get; }

    /// <summary>Ids 0 … VocabSize-1, PluginGpt's appended special tokens included.</summary>
    public int VocabSize { get; }

    /// <summary>The EOS token's id (&lt;/s&gt; for Llama); PluginGpt's &lt;|endoftext|&gt; only for a tokenizer without one.</summary>
    public int EndOfText { get; }
    public int Start => specialIds[SpecialTokens.Start];
    public int Delimiter => specialIds[SpecialTokens.Delimiter];
    public int Extract => specialIds[SpecialTokens.Extract];
    public int Pad => specialIds[SpecialTokens.Pad];

    /// <summary>The BOS id, when the tokenizer has one.</summary>
    public int? BeginningOfText => bos;

    /// <summary>Whether <see cref="Encode"/> starts with the BOS id (tokenizer_config.json's add_bos_token).</summary>
    public bool AddsBeginningOfText => addBos;

    /// <summary>The id of an added token or PluginGpt special token, by its exact string.</summary>
    public int SpecialId(string token) => specialIds[token];

    /// <summary>The piece (vocabulary string, ▁ for spaces) of <paramref name="id"/>.</summary>
    public string Piece(int id) => pieces.TryGetValue(id, out var p) ? p
        : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the vocabulary of {VocabSize}");

    /// <summary>Refuses a tokenizer from another model (more ids of its own than <paramref name="config"/>'s embedding has
    /// rows), which would index past the embedding inside LibTorch.</summary>
    public void CheckFits(GptConfig config, string folder)
    {
        if (OwnVocabSize > config.Vocab)
            throw new CheckpointException($"{Path.Combine(folder, TokenizerFile)}: the tokenizer has {OwnVocabSize:N0} tokens " +
                $"but the model has {config.Vocab:N0} (vocab_size); it belongs to another model");
    }

    /// <summary>Token ids for <paramref name="text"/> as it continues other text: literally, only its own spaces become ▁ (no
    /// dummy prefix), so pieces put together — "It was" + " great" + "." — give the ids of the whole text. GPT-2's contract.</summary>
    public int[] Encode(string text) => EncodeText(text, literal: true);

    /// <summary>Token ids for <paramref name="text"/> as a sequence (or a segment after a special token) starts: with the dummy ▁
    /// prefix Llama saw after every &lt;s&gt; (Hugging Face's <c>add_special_tokens=False</c> ids).</summary>
    public int[] EncodeStart(string text) => EncodeText(text, literal: false);

    int[] EncodeText(string text, bool literal)
    {
        var ids = new List<int>();
        int offset = 0;
        foreach (var stretch in specialSplitter.Split(text))
        {
            if (specialIds.TryGetValue(stretch, out int id)) ids.Add(id);
            else foreach (var word in this.text.Words(stretch, atStart: offset == 0, literal)) bpe.Encode(word, ids);
            offset += stretch.Length;
        }
        return [.. ids];
    }

    /// <summary>The ids a whole sequence starts with: <see cref="Encode"/> behind the BOS id and before the EOS id, as
    /// tokenizer_config.json's add_bos_token and add_eos_token say (Hugging Face's default <c>encode</c>; llama2.c's prompt).</summary>
    public int[] EncodeWithSpecialTokens(string text) =>
        [.. addBos ? [bos!.Value] : Array.Empty<int>(), .. EncodeStart(text), .. addEos ? [eos!.Value] : Array.Empty<int>()];

    /// <summary>The BOS id a sequence starts with, when add_bos_token says so.</summary>
    public int? BeginningOfSequence => addBos ? bos : null;

    /// <summary>The text of <paramref name="ids"/>: see the class remarks.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var result = new StringBuilder();
        var run = new List<string>();
        bool strip = text.AddsPrefix, stripRun = false;
        foreach (int id in ids)
        {
            if (id < 0 || id >= VocabSize || !pieces.TryGetValue(id, out var piece))
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary of {VocabSize}");
            if (id == bos) { Flush(); strip = text.AddsPrefix; continue; }
            if (verbatim.Contains(id)) { Flush(); result.Append(piece); strip = false; continue; }
            if (run.Count == 0) { stripRun = strip; strip = false; }
            run.Add(piece.Replace(meta, ' '));
        }
        Flush();
        return result.ToString();

        void Flush()
        {
            if (run.Count == 0) return;
            var s = ByteFallbackBpe.Concatenate(run);
            result.Append(stripRun && s.StartsWith(' ') ? s[1..] : s);
            run.Clear();
        }
    }

    public IReadOnlyList<string> Files => [TokenizerFile, ConfigFile];

    /// <summary>Writes tokenizer.json and tokenizer_config.json (as read, or with the settings in use when there was none).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, TokenizerFile), tokenizerJson);
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), configJson);
    }

    /// <summary>Whether <paramref name="directory"/> holds a tokenizer.json whose model is BPE with byte fallback
    /// (a SentencePiece-style tokenizer; GPT-2's byte-level tokenizer.json has no byte fallback).</summary>
    public static bool Exists(string directory)
    {
        var path = Path.Combine(directory, TokenizerFile);
        if (!File.Exists(path)) return false;
        try
        {
            using var stream = File.OpenRead(path);
            using var doc = JsonDocument.Parse(stream);
            return doc.RootElement.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object
                && model.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "BPE"
                && model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True;
        }
        catch (JsonException) { return false; }
    }

    /// <summary>Loads <paramref name="directory"/>'s tokenizer.json (+ tokenizer_config.json when present).</summary>
    public static SentencePieceBpeTokenizer Load(string directory)
    {
        var path = Path.Combine(directory, TokenizerFile);
        if (!File.Exists(path)) throw new UserInputException($"{directory}: no {TokenizerFile}");
        var configPath = Path.Combine(directory, ConfigFile);
        return FromJson(File.ReadAllText(path), File.Exists(configPath) ? File.ReadAllText(configPath) : null, path);
    }

    /// <summary>Reads the two files' text; <paramref name="source"/> names tokenizer.json in errors.</summary>
    public static SentencePieceBpeTokenizer FromJson(string tokenizerJson, string? configJson, string source = TokenizerFile)
    {
        try { return new SentencePieceBpeTokenizer(tokenizerJson, configJson); }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            // Corrupt, hand-edited or unsupported files: the user's to fix, so say which file and what in it.
            throw new CheckpointException($"{source}: not a SentencePiece-style BPE tokenizer ({e.Message})", e);
        }
    }

    static string DefaultConfig(HuggingFaceBpeFile.Contents file)
    {
        var config = new JsonObject { ["add_bos_token"] = file.AddBos, ["add_eos_token"] = file.AddEos };
        if (file.BosToken is not null) config["bos_token"] = file.BosToken;
        if (file.EosToken is not null) config["eos_token"] = file.EosToken;
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}
