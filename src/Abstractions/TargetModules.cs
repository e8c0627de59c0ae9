using System.Text.Json;
using System.Text.RegularExpressions;

namespace PluginGpt.Abstractions;

/// <summary>
/// PEFT's rule for <c>target_modules</c>: a list matches a path equal to a name or ending in "." + name
/// (<c>c_attn</c>, <c>attn.c_attn</c>); a single string is a regular expression over the whole path
/// (<c>h\.[0-5]\.attn\.c_attn</c>). Paths are the decoder's hook point 1 paths (<c>h.3.mlp.c_fc</c>).
/// </summary>
public static class TargetModules
{
    /// <summary>The paths <paramref name="spec"/> selects, in the model's order; null or absent selects
    /// <paramref name="defaults"/>.</summary>
    /// <param name="paths">the decoder's hook point 1 paths (<see cref="IDecoder.LinearPaths"/>).</param>
    /// <param name="spec">the experiment's <c>target_modules</c>: a list of names, a regex string, or null.</param>
    /// <param name="defaults">the names used when <paramref name="spec"/> is null (<see cref="IDecoder.LinearNames"/> of the
    /// method's roles).</param>
    /// <param name="field">where the rule sits in the experiment file, for error messages.</param>
    public static IReadOnlyList<string> Resolve(IReadOnlyList<string> paths, JsonElement? spec, IReadOnlyList<string> defaults,
        string field = "method.options.target_modules")
    {
        var valid = $"valid: {string.Join(", ", InBlockNames(paths))} (suffixes of {paths[0]} … {paths[^1]})";
        if (spec is { ValueKind: JsonValueKind.String } s)
        {
            var regex = Pattern(s.GetString()!, field);
            var hits = paths.Where(p => regex.IsMatch(p)).ToList();
            return hits.Count > 0 ? hits : throw new OptionsException($"{field}: regex '{s.GetString()}' matches no module; {valid}");
        }
        var names = spec is null || spec.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
            ? defaults
            : Names(spec.Value, field);
        var result = new List<string>();
        foreach (var name in names)
        {
            var hits = paths.Where(p => p == name || p.EndsWith("." + name, StringComparison.Ordinal)).ToList();
            if (hits.Count == 0) throw new OptionsException($"{field}: '{name}' matches no module; {valid}");
            result.AddRange(hits.Except(result));
        }
        return paths.Where(result.Contains).ToList();
    }

    /// <summary>A JSON list of strings, strictly: anything else is an error naming <paramref name="field"/>.</summary>
    public static IReadOnlyList<string> Names(JsonElement spec, string field) =>
        spec.ValueKind == JsonValueKind.Array && spec.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String)
            ? spec.EnumerateArray().Select(e => e.GetString()!).ToList()
            : throw new OptionsException($"{field}: expected a list of module names or a regex string, got {spec.ValueKind}");

    /// <summary>A full-match regular expression, or an error naming <paramref name="field"/> when it does not parse.</summary>
    public static Regex Pattern(string pattern, string field)
    {
        try { return new Regex("^(?:" + pattern + ")$"); }
        catch (ArgumentException e) { throw new OptionsException($"{field}: '{pattern}' is not a regular expression ({e.Message})"); }
    }

    /// <summary>The distinct in-block names of <paramref name="paths"/> (<c>h.3.attn.c_attn</c> → <c>attn.c_attn</c>), in
    /// order.</summary>
    public static IReadOnlyList<string> InBlockNames(IEnumerable<string> paths) =>
        paths.Select(p => p.Split('.', 3) is [_, var layer, var rest] && int.TryParse(layer, out _) ? rest : p).Distinct().ToList();

    /// <summary>Module names as Hugging Face's GPT-2 model names them (<c>transformer.h.0.attn.c_attn</c>). GPT-2 only: use the
    /// overload that takes the decoder, which knows its family's names.</summary>
    public static IReadOnlyList<string> PeftNames(IEnumerable<string> paths) => paths.Select(p => "transformer." + p).ToList();

    /// <summary>Module names as Hugging Face names them in <paramref name="model"/>'s family (<c>transformer.h.0.attn.c_attn</c>,
    /// <c>model.layers.0.self_attn.q_proj</c>): what an <c>adapter_config.json</c> lists so that PEFT resolves exactly these modules
    /// and no others. Since SDK 2.3.</summary>
    public static IReadOnlyList<string> PeftNames(IDecoder model, IEnumerable<string> paths) =>
        paths.Select(model.HuggingFaceName).ToList();
}
