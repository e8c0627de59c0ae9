namespace PluginGpt.Plugins.PET;

/// <summary>
/// Pattern–verbalizer pairs for the shipped data sets, after PET's own (Schick &amp; Schütze 2021, timoschick/pet pvp.py):
/// Yelp's sentiment patterns for SST-2 and IMDB with terrible/great, AG News's six patterns with World/Sports/Business/Tech, and the
/// RTE/CB question patterns with Yes/No(/Maybe). The decoder reads the answer slot as the next token, so slots sit where a
/// left-to-right model meets them naturally.
/// </summary>
public static class BuiltInPatterns
{
    public sealed record Set(IReadOnlyList<string> Patterns, IReadOnlyDictionary<string, List<string>> Verbalizer);

    static readonly string[] NliPatterns =
    [
        "\"{text_b_nopunct}\" ? {answer}, \"{text_a}\"",
        "{text_b_nopunct}? {answer}, {text_a}",
        "\"{text_b_nopunct}\" ? {answer}. \"{text_a}\"",
        "{text_b_nopunct}? {answer}. {text_a}",
    ];

    // Movie-review sentiment (SST-2 sentences, IMDB reviews): PET's Yelp patterns, the last one naming the movie.
    static readonly Set MovieSentiment = new(
        [
            "It was {answer}. {text_a}", "{text_a} All in all, it was {answer}.", "Just {answer}! {text_a}",
            "{text_a} In summary, the movie is {answer}.",
        ],
        new Dictionary<string, List<string>> { ["negative"] = ["terrible"], ["positive"] = ["great"] });

    static readonly IReadOnlyDictionary<string, Set> Sets = new Dictionary<string, Set>
    {
        ["sst2"] = MovieSentiment,
        ["imdb"] = MovieSentiment,
        ["imdb-all"] = MovieSentiment,
        ["agnews"] = new(
            [
                "{answer}: {text_a}", "{answer} News: {text_a}", "{text_a} ({answer})", "[ Category: {answer} ] {text_a}",
                "{answer} - {text_a}",
            ],
            new Dictionary<string, List<string>>
            {
                ["World"] = ["World"],
                ["Sports"] = ["Sports"],
                ["Business"] = ["Business"],
                ["Sci/Tech"] = ["Tech"],
            }),
        ["rte"] = new(NliPatterns, new Dictionary<string, List<string>> { ["entailment"] = ["Yes"], ["not_entailment"] = ["No"] }),
        // COPA: the task joins premise and connective ("The man fell because"); each option fills the slot (PET's COPA scores
        // the choices themselves, no verbalizer). The second pattern quotes the premise, as PET's COPA patterns do.
        ["copa"] = new(["{text_a} {answer}.", "\"{text_a}\" {answer}."], new Dictionary<string, List<string>>()),
        ["cb"] = new(NliPatterns,
            new Dictionary<string, List<string>> { ["entailment"] = ["Yes"], ["contradiction"] = ["No"], ["neutral"] = ["Maybe"] }),
    };

    /// <summary>The set for a shipped data set, or null (a custom data set brings its own patterns and verbalizer).</summary>
    public static Set? For(string dataset) => Sets.GetValueOrDefault(dataset);
}
