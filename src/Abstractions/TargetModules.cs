using System.Text.Json;
using System.Text.RegularExpressions;

namespace PluginGpt.Abstractions;

/// <summary>
/// PEFT's rule for <c>target_modules</c>: a list matches a path equal to a name or ending in "." + name
/// (<c>c_attn</c>, <c>attn.c_attn</c>); a single string is a regular expression over the whole path.
/// </summary>
public static class TargetModules
{
    public static readonly string[] Default = ["attn.c_attn"];

    public static IReadOnlyList<string> Resolve(IReadOnlyList<string> paths, JsonElement? spec)
    {
        var valid = "valid: attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj " +
            $"(suffixes of h.0.attn.c_attn … h.{paths.Count / 4 - 1}.mlp.c_proj)";
        if (spec is { ValueKind: JsonValueKind.String } s)
        {
            var regex = new Regex("^(?:" + s.GetString() + ")$");
            var hits = paths.Where(p => regex.IsMatch(p)).ToList();
            return hits.Count > 0 ? hits
                : throw new OptionsException($"method.options.target_modules: regex '{s.GetString()}' matches no module; {valid}");
        }
        var names = spec is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray().Select(e => e.GetString() ?? "").ToArray()
            : spec is null || spec.Value.ValueKind == JsonValueKind.Null ? Default
            : throw new OptionsException("method.options.target_modules: expected a list of module names or a regex string");
        var result = new List<string>();
        foreach (var name in names)
        {
            var hits = paths.Where(p => p == name || p.EndsWith("." + name, StringComparison.Ordinal)).ToList();
            if (hits.Count == 0) throw new OptionsException($"method.options.target_modules: '{name}' matches no module; {valid}");
            result.AddRange(hits.Except(result));
        }
        return paths.Where(result.Contains).ToList();
    }
}
