using System.Text.Json;
using System.Text.Json.Nodes;

namespace PluginGpt.Runs;

/// <summary><c>key.path=value</c> assignments onto a JSON object: the value is JSON when it parses as JSON, else a string.</summary>
public static class JsonOverrides
{
    public static void Apply(JsonObject root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new OptionsException($"--set '{assignment}': expected key=value, e.g. training.lr=3e-4");
        var keys = assignment[..eq].Split('.');
        var raw = assignment[(eq + 1)..];
        JsonNode? value;
        try { value = JsonNode.Parse(raw); }
        catch (JsonException) { value = JsonValue.Create(raw); }
        JsonObject node = root;
        foreach (var key in keys[..^1])
        {
            if (node[key] is not JsonObject child) { child = new JsonObject(); node[key] = child; }
            node = child;
        }
        node[keys[^1]] = value;
    }

    public static JsonElement ToElement(IEnumerable<string> assignments)
    {
        var root = new JsonObject();
        foreach (var a in assignments) Apply(root, a);
        return JsonSerializer.SerializeToElement(root);
    }
}
