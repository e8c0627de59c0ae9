using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Baselines;

/// <summary>
/// GPT-1's traversal-style input transforms: <c>[start] a [delim] b [extract]</c>. Similarity yields both orders,
/// multiple choice one sequence per option. Over-long inputs lose tokens from the end of their longest segment.
/// </summary>
public static class InputTransforms
{
    public static IReadOnlyList<int[]> Sequences(Example e, InputFormat format, ITokenizer tokenizer, int maxLength) => format switch
    {
        InputFormat.Single => [Join(tokenizer, maxLength, e.Segments[0])],
        InputFormat.Pair => [Join(tokenizer, maxLength, e.Segments[0], e.Segments[1])],
        InputFormat.SymmetricPair =>
            [Join(tokenizer, maxLength, e.Segments[0], e.Segments[1]), Join(tokenizer, maxLength, e.Segments[1], e.Segments[0])],
        _ => e.Options!.Select(option => Join(tokenizer, maxLength, e.Segments[0], option)).ToArray(),
    };

    static int[] Join(ITokenizer tokenizer, int maxLength, params string[] segments)
    {
        var parts = segments.Select(s => tokenizer.EncodeStart(s).ToList()).ToList();   // each follows a special token
        int specials = 1 + parts.Count;   // start, delimiters, extract
        while (parts.Sum(p => p.Count) + specials > maxLength)
        {
            var longest = parts.MaxBy(p => p.Count)!;
            if (longest.Count == 0) throw new OptionsException($"objective.options.max_length: {maxLength} leaves no room for text");
            longest.RemoveAt(longest.Count - 1);
        }
        var ids = new List<int> { tokenizer.Start };
        for (int i = 0; i < parts.Count; i++)
        {
            if (i > 0) ids.Add(tokenizer.Delimiter);
            ids.AddRange(parts[i]);
        }
        ids.Add(tokenizer.Extract);
        return [.. ids];
    }
}
