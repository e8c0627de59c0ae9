using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Plugins.Baselines;
using TorchSharp;

namespace PluginGpt.Plugins.Tests;

/// <summary>In-context learning zero-shot (k = 0) and with chain of thought, on a hand-made example.</summary>
public class ChainOfThoughtTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));
    static Decoder Tiny() { torch.manual_seed(5); var m = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize }); m.eval(); return m; }

    static readonly TaskData Sentiment = new("toy", InputFormat.Single, ["negative", "positive"],
        [new Example(["a dull film"], 0), new Example(["a lovely film"], 1)], [new Example(["what a joy"], 1)], "accuracy");

    const string Demonstrations = """
        "demonstrations": [
          { "text": ["great fun"], "label": "positive", "rationale": "Fun is good." },
          { "text": ["dull"], "label": "negative", "rationale": "Dull is bad." }
        ]
        """;

    static IObjectiveInstance Create(Decoder model, string options) =>
        new InContext().Create(new ObjectiveContext(model, Tok, Sentiment, JsonDocument.Parse(options).RootElement));

    [Fact]
    public void Zero_shot_is_the_template_alone()
    {
        using var model = Tiny();
        using var icl = Create(model, """{"k": 0}""");
        Assert.Equal("what a joy\nAnswer:", Tok.Decode(icl.PromptTokens(Sentiment.Dev[0])!));
        Assert.Equal(2, icl.Predict(Sentiment.Dev)[0].Probabilities.Count);
    }

    [Fact]
    public void Demonstrations_carry_their_rationales_and_the_query_stops_where_the_model_reasons()
    {
        using var model = Tiny();
        using var icl = Create(model, $$"""{"chain_of_thought": true, "max_new_tokens": 8, {{Demonstrations}} }""");
        Assert.Equal("Q: great fun\nA: Fun is good. So the answer is positive.\n\n" +
            "Q: dull\nA: Dull is bad. So the answer is negative.\n\n" +
            "Q: what a joy\nA:", Tok.Decode(icl.PromptTokens(Sentiment.Dev[0])!));
    }

    [Theory]
    [InlineData("It is fun. So the answer is positive.", 1)]
    [InlineData("Hmm. THE ANSWER IS Negative!", 0)]
    [InlineData("So the answer is maybe.", -1)]
    [InlineData("No conclusion here.", -1)]
    [InlineData("Unsure.\n\nQ: next\nA: So the answer is positive.", -1)]   // a made-up next demonstration is not the answer
    public void The_answer_is_read_from_the_generated_text(string generated, int label)
    {
        var reasoning = ChainOfThought.Create(ChainOfThought.DefaultTemplate, ["negative", "positive"], ChainOfThought.DefaultPattern, "o");
        Assert.Equal(label, reasoning.Extract(generated));
    }

    [Fact]
    public void A_prediction_is_the_answer_in_the_models_own_greedy_reasoning_or_invalid()
    {
        using var model = Tiny();
        using var icl = Create(model, $$"""{"chain_of_thought": true, "max_new_tokens": 12, {{Demonstrations}} }""");
        var prediction = icl.Predict(Sentiment.Dev)[0];
        using var _ = torch.no_grad();
        var prompt = icl.PromptTokens(Sentiment.Dev[0])!;
        var generated = TokenBatch.Greedy(model, [prompt], 12, Tok.EndOfText, Tok.Pad, model.Config.Context)[0];
        var reasoning = ChainOfThought.Create(ChainOfThought.DefaultTemplate, ["negative", "positive"], ChainOfThought.DefaultPattern, "o");
        int expected = reasoning.Extract(Tok.Decode(generated));
        Assert.Equal(expected, prediction.Label);
        Assert.Equal(expected < 0, prediction.Invalid);
    }

    [Theory]
    [InlineData("""{"chain_of_thought": true}""", "demonstrations")]
    [InlineData("""{"chain_of_thought": true, "template": "Q: {0} A: {label}", DEMOS}""", "{rationale} before {label}")]
    [InlineData("""{"chain_of_thought": true, "answer_pattern": "answer is \\w+", DEMOS}""", "needs a group")]
    [InlineData("""{"chain_of_thought": true, "answer_pattern": "(", DEMOS}""", "not a regular expression")]
    [InlineData("""{"demonstrations": [{ "text": ["x"], "label": "meh" }]}""", "demonstrations[0].label")]
    [InlineData("""{"chain_of_thought": true, "demonstrations": [{ "text": ["x"], "label": "positive" }]}""", "rationale")]
    [InlineData("""{"chain_of_thought": true, "max_new_tokens": 63, DEMOS}""", "max_new_tokens")]
    [InlineData("""{"chain_of_thought": true, "verbalizer": ["bad", "Sci/Tech"], DEMOS}""", "'Sci/Tech' cannot be read back")]
    public void Bad_chain_of_thought_options_are_one_line_errors(string options, string message)
    {
        using var model = Tiny();
        var e = Assert.Throws<OptionsException>(() => Create(model, options.Replace("DEMOS", Demonstrations)));
        Assert.Contains(message, e.Message);
    }
}
