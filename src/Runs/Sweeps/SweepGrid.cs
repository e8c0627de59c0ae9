using System.Text.Json;
using System.Text.Json.Nodes;

namespace PluginGpt.Runs.Sweeps;

/// <summary>
/// The combinations of a sweep: each <c>--grid key=v1,v2</c> multiplies the runs. A value list that parses as a JSON array
/// gives its elements as the alternatives (<c>method.options.target_modules=[["c_attn"],["c_attn","c_fc"]]</c>).
/// </summary>
public static class SweepGrid
{
    /// <summary>The most runs one sweep makes (and checks up front).</summary>
    public const int MaxCombinations = 1000;

    public static IReadOnlyList<IReadOnlyList<string>> Combinations(IEnumerable<string> grids)
    {
        var parsed = new List<(string Key, IReadOnlyList<string> Values)>();
        foreach (var grid in grids)
        {
            int eq = grid.IndexOf('=');
            if (eq <= 0) throw new OptionsException($"--grid '{grid}': expected key=value1,value2");
            var values = Values(grid[(eq + 1)..]);
            if (values.Count == 0) throw new OptionsException($"--grid '{grid}': no values");
            parsed.Add((grid[..eq], values));
        }
        // Counted before anything is built: every combination is bound and checked before the first run, which for a grid of
        // millions would be minutes of silence and gigabytes of specs.
        double count = parsed.Aggregate(1.0, (n, g) => n * g.Values.Count);
        if (count > MaxCombinations)
            throw new OptionsException($"--grid: {count:N0} combinations ({string.Join(" × ", parsed.Select(g => g.Values.Count))}); " +
                $"a sweep runs at most {MaxCombinations:N0}: split it into several sweeps");
        IEnumerable<IReadOnlyList<string>> combos = [[]];
        foreach (var (key, values) in parsed)
            combos = combos.SelectMany(c => values.Select(v => (IReadOnlyList<string>)[.. c, $"{key}={v}"])).ToList();
        return combos.ToList();
    }

    static IReadOnlyList<string> Values(string text)
    {
        if (text.TrimStart().StartsWith('['))
        {
            try { return JsonNode.Parse(text)!.AsArray().Select(n => n!.ToJsonString()).ToList(); }
            catch (JsonException) { }
        }
        return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>A folder-safe label of one combination: <c>lr=0.001_r=8</c>.</summary>
    public static string Label(IReadOnlyList<string> assignments) =>
        assignments.Count == 0 ? "base" : string.Join("_", assignments.Select(ShortAssignment))
            .Select(c => char.IsLetterOrDigit(c) || c is '=' or '.' or '-' or '_' ? c : '-').Aggregate("", (s, c) => s + c);

    /// <summary><c>training.lr=0.01</c> → <c>lr=0.01</c>: the key's last part, the value whole (it may hold dots).</summary>
    static string ShortAssignment(string assignment)
    {
        int eq = assignment.IndexOf('=');
        return assignment[..eq].Split('.')[^1] + assignment[eq..];
    }
}
