using System.Text.Json;
using System.Text.Json.Nodes;

namespace PluginGpt.Core.Tokenization;

/// <summary>An entry of <c>added_tokens</c>: matched as its exact string in text, before any normalization.</summary>
sealed record AddedToken(int Id, string Content, bool Special);

/// <summary>How text becomes BPE words: the Llama normalizer (<c>Prepend("▁")</c> + <c>Replace(" ", "▁")</c>) and/or the
/// <c>Metaspace</c> pre-tokenizer, applied to each stretch of text between added tokens.</summary>
/// <param name="Prepend">The legacy normalizer's <c>Prepend</c> content: put before every non-empty stretch.</param>
/// <param name="Replacements">The normalizer's <c>Replace</c> steps, in order.</param>
/// <param name="PrependFirst">Whether <paramref name="Prepend"/> comes before the replacements (its place in the sequence).</param>
/// <param name="Metaspace">The Metaspace pre-tokenizer's replacement character, or null when there is none.</param>
/// <param name="MetaspaceScheme">"always", "first" or "never".</param>
/// <param name="MetaspaceSplit">Whether Metaspace cuts words before each replacement character.</param>
sealed record SentencePieceText(string? Prepend, IReadOnlyList<(string Pattern, string Content)> Replacements, bool PrependFirst,
    char? Metaspace, string MetaspaceScheme, bool MetaspaceSplit)
{
    /// <summary>Whether encoding puts a ▁ before the text (so decoding drops the space it becomes).</summary>
    public bool AddsPrefix => Prepend is not null || (Metaspace is not null && MetaspaceScheme != "never");

    /// <summary>The BPE words of one stretch of text; <paramref name="atStart"/>: the stretch starts the whole text;
    /// <paramref name="literal"/>: no ▁ is prepended (only the text's own spaces become ▁).</summary>
    public IEnumerable<string> Words(string text, bool atStart, bool literal = false)
    {
        if (text.Length == 0) yield break;
        if (Prepend is not null && PrependFirst && !literal) text = Prepend + text;
        foreach (var (pattern, content) in Replacements) text = text.Replace(pattern, content, StringComparison.Ordinal);
        if (Prepend is not null && !PrependFirst && !literal) text = Prepend + text;
        if (Metaspace is not char meta) { yield return text; yield break; }
        text = text.Replace(' ', meta);
        // tokenizers' Metaspace: never a second ▁ before text that already starts with one; "first" only at the text's start.
        if (!literal && !text.StartsWith(meta) && (MetaspaceScheme == "always" || (MetaspaceScheme == "first" && atStart)))
            text = meta + text;
        if (!MetaspaceSplit) { yield return text; yield break; }
        int start = 0;
        for (int i = 1; i < text.Length; i++)
            if (text[i] == meta) { yield return text[start..i]; start = i; }
        yield return text[start..];
    }
}

/// <summary>
/// Reads the parts of a Hugging Face <c>tokenizer.json</c> (and <c>tokenizer_config.json</c>) that a SentencePiece-style
/// BPE tokenizer needs, refusing what it would not reproduce (another model type, other normalizers or pre-tokenizers).
/// </summary>
static class HuggingFaceBpeFile
{
    public sealed record Contents(Dictionary<string, int> Vocab, List<(string, string)> Merges, List<AddedToken> AddedTokens,
        ByteFallbackBpe Model, SentencePieceText Text, bool AddBos, bool AddEos, string? BosToken, string? EosToken);

    /// <summary>Parses the two files' text; any problem is a <see cref="FormatException"/> saying which field.</summary>
    public static Contents Parse(string tokenizerJson, string? configJson)
    {
        var root = JsonNode.Parse(tokenizerJson) as JsonObject ?? throw new FormatException("not a JSON object");
        var model = root["model"] as JsonObject ?? throw new FormatException("no \"model\" object");
        var type = (string?)model["type"];
        if (type != "BPE") throw new FormatException($"model.type is '{type ?? "(missing)"}', not 'BPE'");
        foreach (var field in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model[field] is JsonValue v && (string?)v is { Length: > 0 })
                throw new FormatException($"model.{field} is set; only SentencePiece-style BPE (without it) is supported");
        if (model["dropout"] is JsonValue d && d.GetValueKind() == JsonValueKind.Number && (double)d != 0)
            throw new FormatException("model.dropout is set; encoding would be random");
        var vocabNode = model["vocab"] as JsonObject ?? throw new FormatException("model.vocab is not an object");
        var vocab = vocabNode.ToDictionary(kv => kv.Key,
            kv => kv.Value?.GetValue<int>() ?? throw new FormatException($"model.vocab['{kv.Key}'] is not an id"));
        var merges = (model["merges"] as JsonArray ?? throw new FormatException("model.merges is not an array"))
            .Select(Merge).ToList();
        var added = (root["added_tokens"] as JsonArray ?? [])
            .Select(t => new AddedToken(t?["id"]?.GetValue<int>() ?? throw new FormatException("an added token has no id"),
                (string?)t["content"] ?? throw new FormatException("an added token has no content"), (bool?)t["special"] ?? false))
            .ToList();
        var everything = new Dictionary<string, int>(vocab);
        foreach (var t in added) everything[t.Content] = t.Id;
        var unk = (string?)model["unk_token"];
        var bpe = new ByteFallbackBpe(everything, merges, unk, (bool?)model["byte_fallback"] ?? false,
            (bool?)model["fuse_unk"] ?? false, (bool?)model["ignore_merges"] ?? false);
        var text = ReadText(root["normalizer"] as JsonObject, root["pre_tokenizer"] as JsonObject);

        var config = configJson is null ? null : JsonNode.Parse(configJson) as JsonObject
            ?? throw new FormatException("tokenizer_config.json is not a JSON object");
        string? bos = TokenName(config?["bos_token"]) ?? (everything.ContainsKey("<s>") ? "<s>" : null);
        string? eos = TokenName(config?["eos_token"]) ?? (everything.ContainsKey("</s>") ? "</s>" : null);
        foreach (var (name, token) in new[] { ("bos_token", bos), ("eos_token", eos) })
            if (token is not null && !everything.ContainsKey(token))
                throw new FormatException($"{name} '{token}' is not in the vocabulary");
        bool addBos = (bool?)config?["add_bos_token"] ?? true, addEos = (bool?)config?["add_eos_token"] ?? false;
        if (addBos && bos is null) throw new FormatException("add_bos_token is true but there is no bos_token");
        if (addEos && eos is null) throw new FormatException("add_eos_token is true but there is no eos_token");
        return new Contents(vocab, merges, added, bpe, text, addBos, addEos, bos, eos);
    }

    /// <summary>A merge as "a b" (older files) or ["a", "b"] (tokenizers ≥ 0.20, where pieces may contain spaces).</summary>
    static (string, string) Merge(JsonNode? node)
    {
        if (node is JsonArray { Count: 2 } pair)
            return ((string?)pair[0] ?? throw new FormatException("a merge pair holds null"),
                (string?)pair[1] ?? throw new FormatException("a merge pair holds null"));
        var line = (string?)node ?? throw new FormatException("a merge is neither a string nor a pair");
        int space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || space != line.LastIndexOf(' '))
            throw new FormatException($"merge '{line}' is not two pieces separated by a space");
        return (line[..space], line[(space + 1)..]);
    }

    /// <summary>A token in tokenizer_config.json: a string, or an AddedToken object with "content".</summary>
    static string? TokenName(JsonNode? node) => node switch
    {
        JsonValue v => (string?)v,
        JsonObject o => (string?)o["content"],
        _ => null,
    };

    static SentencePieceText ReadText(JsonObject? normalizer, JsonObject? preTokenizer)
    {
        string? prepend = null;
        bool prependFirst = true;
        var replacements = new List<(string, string)>();
        var steps = normalizer is null ? [] : (string?)normalizer["type"] == "Sequence"
            ? (normalizer["normalizers"] as JsonArray ?? []).Select(n => n as JsonObject ?? []).ToList()
            : [normalizer];
        foreach (var step in steps)
        {
            switch ((string?)step["type"])
            {
                case "Prepend":
                    prepend = (string?)step["prepend"] ?? throw new FormatException("normalizer Prepend has no \"prepend\"");
                    prependFirst = replacements.Count == 0;
                    break;
                case "Replace":
                    var pattern = (string?)step["pattern"]?["String"]
                        ?? throw new FormatException("normalizer Replace: only a literal {\"String\": …} pattern is supported");
                    replacements.Add((pattern, (string?)step["content"] ?? ""));
                    break;
                case var other:
                    throw new FormatException($"normalizer '{other}' is not supported (only Prepend and Replace, as Llama's)");
            }
        }
        char? meta = null;
        string scheme = "always";
        bool split = true;
        if (preTokenizer is not null)
        {
            var pre = (string?)preTokenizer["type"] == "Sequence" && preTokenizer["pretokenizers"] is JsonArray { Count: 1 } one
                ? one[0] as JsonObject ?? [] : preTokenizer;
            if ((string?)pre["type"] != "Metaspace")
                throw new FormatException($"pre_tokenizer '{(string?)pre["type"]}' is not supported (only Metaspace)");
            var replacement = (string?)pre["replacement"] ?? "▁";
            if (replacement.Length != 1) throw new FormatException($"Metaspace replacement '{replacement}' is not one character");
            meta = replacement[0];
            // Files before tokenizers 0.19 say add_prefix_space instead of prepend_scheme.
            scheme = (string?)pre["prepend_scheme"] ?? ((bool?)pre["add_prefix_space"] ?? true ? "always" : "never");
            if (scheme is not ("always" or "first" or "never"))
                throw new FormatException($"Metaspace prepend_scheme '{scheme}' is unknown");
            split = (bool?)pre["split"] ?? true;
        }
        return new SentencePieceText(prepend, replacements, prependFirst, meta, scheme, split);
    }
}
