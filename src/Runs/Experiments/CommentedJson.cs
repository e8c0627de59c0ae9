using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace PluginGpt.Runs;

/// <summary>The project's JSON files (experiments, studies): comments and trailing commas allowed, unknown fields refused, every
/// error one line naming the file, the line or the field.</summary>
public static class CommentedJson
{
    public static readonly JsonSerializerOptions Strict = new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>The top-level object of <paramref name="path"/> (a <paramref name="kind"/>, named in the errors), or of
    /// <paramref name="text"/> read from it before.</summary>
    public static JsonObject ReadObject(string path, string kind, string? text = null)
    {
        if (text is null && !File.Exists(path)) throw new UserInputException($"{path}: {kind} not found");
        JsonNode root;
        try
        {
            root = JsonNode.Parse(text ?? File.ReadAllText(path),
                    documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                ?? throw new OptionsException($"{path}: empty file");
        }
        catch (JsonException e)
        {
            throw new OptionsException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: " +
                $"malformed JSON ({e.Message.Split(" LineNumber")[0].TrimEnd('.', ' ')})");
        }
        return root as JsonObject ?? throw new OptionsException($"{path}: the top level must be an object");
    }

    /// <summary>Binds <paramref name="node"/> strictly; a type error names the field.</summary>
    public static T Bind<T>(JsonObject node, string path) where T : class
    {
        JsonNumbers.RequireFinite(JsonSerializer.SerializeToElement(node), path);
        try { return node.Deserialize<T>(Strict) ?? throw new OptionsException($"{path}: empty"); }
        catch (JsonException e) { throw new OptionsException($"{path}: {Field(e.Path)}: {e.Message.Split(" Path:")[0]}"); }
    }

    static string Field(string? jsonPath) => string.IsNullOrEmpty(jsonPath) ? "(root)" : jsonPath.TrimStart('$', '.');
}
