using System.Text.Json;
using PluginGpt.Plugins.PET;
using TorchSharp;
using Decoder = PluginGpt.Core.Model.Decoder;

namespace PluginGpt.Plugins.Tests;

/// <summary>PET's cloze scoring, loss and option checks, on the golden PyTorch fixture with a byte-level stand-in tokenizer.</summary>
public class PetTests
{
    static readonly GoldenBytes.ByteTokenizer Bytes = GoldenBytes.Bytes;
    static Decoder Golden() => GoldenBytes.Model();
    static JsonElement Json(string s) => JsonDocument.Parse(s).RootElement;
    static IReadOnlyDictionary<string, List<string>> Words(params (string Label, string[] Words)[] v) =>
        v.ToDictionary(x => x.Label, x => x.Words.ToList());

    static double LogLikelihood(Decoder model, int[] ids, int from) => GoldenBytes.LogLikelihood(model, ids, from);

    static int[] Ids(string text) => Bytes.Encode(text).Prepend(Bytes.EndOfText).ToArray();

    [Fact]
    public void A_final_slot_is_the_next_token_and_an_inner_slot_the_filled_texts_likelihood_as_computed_by_hand()
    {
        using var model = Golden();
        var example = new Example(["ok"]);
        using var _ = torch.no_grad();

        // Slot at the end, one-token words "a" / "b": the next-token log-probabilities after "<eot>ok is".
        var end = new ClozeScorer(model, Bytes, Pattern.Parse("{text_a} is{answer}", "p", 1),
            Verbalizer.Create(Words(("no", ["a"]), ("yes", ["b"])), ["no", "yes"], Bytes, "v"), 64).Scores([example]);
        var prefix = Ids("ok is");
        Assert.Equal(LogLikelihood(model, [.. prefix, 'a'], prefix.Length), end[0, 0].item<float>(), 1e-4);
        Assert.Equal(LogLikelihood(model, [.. prefix, 'b'], prefix.Length), end[0, 1].item<float>(), 1e-4);

        // Slot inside: the answer and everything after it ("b! ok") scored in one filled sequence per word, and only those
        // positions go through the LM head.
        long rowsBefore = model.LmHeadRows;
        var inner = new ClozeScorer(model, Bytes, Pattern.Parse("Just{answer}! {text_a}", "p", 1),
            Verbalizer.Create(Words(("no", ["a"]), ("yes", ["b"])), ["no", "yes"], Bytes, "v"), 64).Scores([example]);
        long rows = model.LmHeadRows - rowsBefore;
        Assert.Equal(LogLikelihood(model, Ids("Justa! ok"), Ids("Just").Length), inner[0, 0].item<float>(), 1e-4);
        Assert.Equal(LogLikelihood(model, Ids("Justb! ok"), Ids("Just").Length), inner[0, 1].item<float>(), 1e-4);
        Assert.Equal(2 * (Ids("Justa! ok").Length - Ids("Just").Length), rows);
    }

    [Fact]
    public void Every_IMDB_dataset_has_the_movie_patterns()
    {
        Assert.NotNull(BuiltInPatterns.For("imdb"));
        Assert.Same(BuiltInPatterns.For("imdb"), BuiltInPatterns.For("imdb-all"));
        Assert.Same(BuiltInPatterns.For("sst2"), BuiltInPatterns.For("imdb"));
    }

    [Fact]
    public void Multiple_choice_fills_the_slot_with_each_option_lowered_and_unpunctuated_as_PETs_COPA()
    {
        using var model = Golden();
        using var _ = torch.no_grad();
        var example = new Example(["rain because"], Label: 0, Options: ["Clouds came.", "Sun!"]);
        var scores = new ClozeScorer(model, Bytes, Pattern.Parse("{text_a} {answer}.", "p", 1), null, 64).Scores([example]);
        Assert.Equal([1L, 2], scores.shape);
        var prefix = Ids("rain because");
        Assert.Equal(LogLikelihood(model, Ids("rain because clouds came."), prefix.Length), scores[0, 0].item<float>(), 1e-4);
        Assert.Equal(LogLikelihood(model, Ids("rain because sun."), prefix.Length), scores[0, 1].item<float>(), 1e-4);

        // Through the objective: COPA's built-in pattern, a loss over the options, and no verbalizer accepted.
        var copa = new TaskData("copa", InputFormat.MultipleChoice, [], [example], [example], "accuracy");
        using (var pet = new PetObjective().Create(new ObjectiveContext(model, Bytes, copa, Json("{}"))))
            Assert.Equal(2, pet.Predict([example])[0].Probabilities.Count);
        var e = Assert.Throws<OptionsException>(() => new PetObjective().Create(
            new ObjectiveContext(model, Bytes, copa, Json("""{"verbalizer": {"a": ["b"]}}"""))));
        Assert.Contains("objective.options.verbalizer", e.Message);
    }

    [Fact]
    public void A_multi_token_word_sums_its_tokens_and_a_label_takes_its_best_word()
    {
        using var model = Golden();
        using var _ = torch.no_grad();
        var scores = new ClozeScorer(model, Bytes, Pattern.Parse("{text_a} it was{answer}", "p", 1),
            Verbalizer.Create(Words(("no", ["bad"]), ("yes", ["good", "fine"])), ["no", "yes"], Bytes, "v"), 64)
            .Scores([new Example(["fun"])]);
        var prefix = Ids("fun it was");
        double bad = LogLikelihood(model, [.. prefix, .. Bytes.Encode("bad")], prefix.Length);
        double good = LogLikelihood(model, [.. prefix, .. Bytes.Encode("good")], prefix.Length);
        double fine = LogLikelihood(model, [.. prefix, .. Bytes.Encode("fine")], prefix.Length);
        Assert.Equal(bad, scores[0, 0].item<float>(), 1e-4);                 // three tokens, summed
        Assert.Equal(Math.Max(good, fine), scores[0, 1].item<float>(), 1e-4);   // the label's best word
    }

    [Fact]
    public void The_loss_mixes_cross_entropy_and_the_LM_loss_by_alpha()
    {
        using var model = Golden();
        var data = new TaskData("toy", InputFormat.Single, ["no", "yes"],
            [new Example(["ok"], Label: 1), new Example(["bad"], Label: 0)], [new Example(["ok"], Label: 1)], "accuracy");
        float Loss(double alpha)
        {
            using var o = new PetObjective().Create(new ObjectiveContext(model, Bytes, data,
                Json($$"""{"pattern": "{text_a} is{answer}", "verbalizer": {"no": ["a"], "yes": ["b"]}, "lm_alpha": {{alpha}}}""")));
            torch.manual_seed(1);
            using var _ = torch.no_grad();
            return o.Loss(data.Train).item<float>();
        }
        float ce = Loss(0), lm = Loss(1), half = Loss(0.5);
        Assert.NotEqual(ce, lm);
        Assert.Equal(0.5 * ce + 0.5 * lm, half, 4);
        using var scored = new PetObjective().Create(new ObjectiveContext(model, Bytes, data,
            Json("""{"pattern": "{text_a} is{answer}", "verbalizer": {"no": ["a"], "yes": ["b"]}, "lm_alpha": 0}""")));
        Assert.Empty(scored.Parameters);   // no head, no new parameters
        var p = scored.Predict(data.Dev)[0];
        Assert.Equal(1, p.Probabilities.Sum(), 6);
    }

    [Fact]
    public void Calibration_divides_the_prediction_by_the_content_free_inputs_and_leaves_the_loss_alone()
    {
        using var model = Golden();
        var data = new TaskData("toy", InputFormat.Single, ["no", "yes"],
            [new Example(["ok"], Label: 1), new Example(["bad"], Label: 0)], [new Example(["ok"], Label: 1)], "accuracy");
        const string pet = """ "pattern": "{text_a} is{answer}", "verbalizer": {"no": ["a"], "yes": ["b"]}, "lm_alpha": 0 """;
        using var plain = new PetObjective().Create(new ObjectiveContext(model, Bytes, data, Json($$"""{{{pet}}}""")));
        using var calibrated = new PetObjective().Create(new ObjectiveContext(model, Bytes, data,
            Json($$"""{{{pet}}, "calibrate": true}""")));
        using var _ = torch.no_grad();
        var p = plain.Predict([data.Train[0]])[0].Probabilities;
        var prior = plain.Predict([new Example(["N/A"])])[0].Probabilities;
        double[] divided = [p[0] / prior[0], p[1] / prior[1]];
        var q = calibrated.Predict([data.Train[0]])[0].Probabilities;
        Assert.NotEqual(p[1], q[1], 3);
        Assert.Equal(divided[1] / divided.Sum(), q[1], 6);
        Assert.Equal(plain.Loss(data.Train).item<float>(), calibrated.Loss(data.Train).item<float>());
        var copa = new TaskData("copa", InputFormat.MultipleChoice, [], [], [], "accuracy");
        var e = Assert.Throws<OptionsException>(() => new PetObjective().Create(
            new ObjectiveContext(model, Bytes, copa, Json("""{"calibrate": true}"""))));
        Assert.Contains("objective.options.calibrate", e.Message);
    }

    [Theory]
    [InlineData("""{"pattern": "{text_a} was great"}""", "must hold exactly one {answer}")]
    [InlineData("""{"pattern": "{answer} {text_b}"}""", "this task's examples have 1 text(s)")]
    [InlineData("""{"pattern": "{txt} {answer}"}""", "unknown placeholder {txt}")]
    [InlineData("""{"pattern": "{text_a} {answer}", "verbalizer": {"no": ["a"]}}""", "no word for label 'yes'")]
    [InlineData("""{"pattern": "{text_a} {answer}", "verbalizer": {"no": ["a"], "yes": ["a"]}}""", "stands for both 'no' and 'yes'")]
    [InlineData("""{"pattern": "{text_a} {answer}", "verbalizer": {"no": ["a"], "yes": ["b"], "maybe": ["c"]}}""",
        "'maybe' is not a label")]
    [InlineData("""{"verbalizer": {"no": ["a"], "yes": ["b"]}}""", "no built-in patterns")]
    [InlineData("""{"pattern": "It was {answer}."}""", "uses none of the example's texts")]
    [InlineData("""{"pattern": "{text_a} {answer}", "verbalizer": {"no": [""], "yes": ["b"]}}""", "label 'no' has a blank word")]
    [InlineData("""{"pattern": "{text_a} {answer}", "verbalizer": {"no": ["a"], "yes": ["  "]}}""", "label 'yes' has a blank word")]
    public void Bad_patterns_and_verbalizers_are_one_line_errors(string options, string message)
    {
        using var model = Golden();
        var data = new TaskData("custom", InputFormat.Single, ["no", "yes"], [new Example(["x"], Label: 0)], [new Example(["x"], Label: 0)],
            "accuracy");
        var e = Assert.Throws<OptionsException>(() => new PetObjective().Create(new ObjectiveContext(model, Bytes, data, Json(options))));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Patterns_move_spaces_into_placeholders_strip_punctuation_and_shorten_the_text_not_the_answer()
    {
        var pattern = Pattern.Parse("\"{text_b_nopunct}\" ? {answer}, \"{text_a}\"", "p", 2);
        var (prefix, answer, suffix) = pattern.Encode(Bytes, new Example(["The cat sat.", "A cat sat."]), ["Yes"], 100)[0];
        Assert.Equal("\"A cat sat\" ?", Bytes.Decode(prefix));
        Assert.Equal(" Yes", Bytes.Decode(answer));
        Assert.Equal(", \"The cat sat.\"", Bytes.Decode(suffix));
        var shortened = Pattern.Parse("{text_a} It was{answer}.", "p", 1)
            .Encode(Bytes, new Example([new string('x', 50)]), ["great"], 20)[0];
        Assert.Equal(20, shortened.Prefix.Length + shortened.Answer.Length + shortened.Suffix.Length);
        Assert.Equal("great", Bytes.Decode(shortened.Answer));
    }

    [Theory]
    [InlineData("""{"patterns": [1.5]}""", "patterns")]
    [InlineData("""{"patterns": [-1]}""", "patterns")]
    [InlineData("""{"temperature": 1e-9}""", "temperature")]
    [InlineData("""{"temperature": 1e9}""", "temperature")]
    [InlineData("""{"models_per_pattern": 1000}""", "models_per_pattern")]
    [InlineData("""{"patterns": [0, 1, 2, 3, 4, 5, 6, 7, 8], "models_per_pattern": 8}""", "more than 64 models")]
    [InlineData("""{"temperature": 1e999}""", "1e999 is beyond any finite number")]
    public void Recipe_numbers_at_their_limits_are_refused_before_any_stage(string options, string message)
    {
        var e = Assert.Throws<OptionsException>(() =>
            PluginGpt.Abstractions.PluginOptions.Bind<RecipeOptions>(Json(options), RecipeOptions.Section).Validate());
        Assert.Contains(message, e.Message);
        Assert.StartsWith(RecipeOptions.Section, e.Message);
    }

    [Fact]
    public void An_ipet_growth_the_pool_cannot_feed_is_refused_before_the_first_stage()
    {
        var train = Enumerable.Range(0, 32).Select(i => new Example(["x"], Label: i % 2)).ToList();
        var pool = Enumerable.Range(0, 100).Select(_ => new Example(["y"])).ToList();
        var data = new TaskData("custom", InputFormat.Single, ["no", "yes"], train, train, "accuracy") { Unlabelled = pool };
        // PET's own setting (d = 5, 3 generations: 32·25 − 32 = 768 new examples) fits 10 repeats of 100 rows.
        IpetRecipe.CheckGrowth(new IpetRecipe.Options { Growth = 5, Generations = 3 }, data);
        var e = Assert.Throws<OptionsException>(() =>
            IpetRecipe.CheckGrowth(new IpetRecipe.Options { Growth = 1e6, Generations = 10 }, data));
        Assert.Contains("growth", e.Message);
        Assert.Contains("pool of 100", e.Message);
    }
}
