using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// PET's verbalizer ("v"): the word or words that stand for each label, in the task's label order. A label's score is the
/// best of its words' scores; words may be several tokens long. Every label needs a word, no word may name two labels.
/// </summary>
public sealed class Verbalizer
{
    public IReadOnlyList<IReadOnlyList<string>> Words { get; }

    Verbalizer(IReadOnlyList<IReadOnlyList<string>> words) => Words = words;

    /// <summary>Orders <paramref name="byLabel"/> by <paramref name="labels"/>; a missing or unknown label, an empty list or a word
    /// shared by two labels (the same tokens) is an error naming <paramref name="field"/>.</summary>
    public static Verbalizer Create(IReadOnlyDictionary<string, List<string>> byLabel, IReadOnlyList<string> labels, ITokenizer tokenizer,
        string field)
    {
        foreach (var name in byLabel.Keys.Where(k => !labels.Contains(k)))
            throw new OptionsException($"{field}: '{name}' is not a label of this task (labels: {string.Join(", ", labels)})");
        var words = labels.Select(l => byLabel.TryGetValue(l, out var w) && w.Count > 0 ? w
            : throw new OptionsException(
                $"{field}: no word for label '{l}' (every label needs one: {string.Join(", ", labels)})")).ToList();
        foreach (var (label, list) in labels.Zip(words))
            if (list.FirstOrDefault(string.IsNullOrWhiteSpace) is not null)
                throw new OptionsException($"{field}: label '{label}' has a blank word; a word must hold text the model can score");
        var seen = new Dictionary<string, string>();
        for (int l = 0; l < labels.Count; l++)
            foreach (var word in words[l])
            {
                var key = string.Join(",", tokenizer.Encode(" " + word.Trim()));
                if (seen.TryGetValue(key, out var other) && other != labels[l])
                    throw new OptionsException(
                        $"{field}: '{word}' stands for both '{other}' and '{labels[l]}'; a word must name one label");
                seen[key] = labels[l];
            }
        return new Verbalizer(words.Select(w => (IReadOnlyList<string>)w.Select(x => x.Trim()).ToList()).ToList());
    }
}
