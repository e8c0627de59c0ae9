using System.Text.Json;
using PluginGpt.Plugins.T5Prefix;
using TorchSharp;
using Decoder = PluginGpt.Core.Model.Decoder;

namespace PluginGpt.Plugins.Tests;

/// <summary>The text-to-text objective on the golden PyTorch fixture (byte tokens): answer-only loss, constrained and free
/// decoding, the STS-B grid, and its option checks.</summary>
public class TextToTextTests
{
    static readonly GoldenBytes.ByteTokenizer Bytes = GoldenBytes.Bytes;
    const string Short = """{"template": "s: {text_a}", "separator": " =", "targets": {"neg": "no", "pos": "yes"}}""";

    static TaskData Toy => new("toy", InputFormat.Single, ["neg", "pos"],
        [new Example(["ok"], Label: 1), new Example(["bad day"], Label: 0)], [new Example(["fine"], Label: 1)], "accuracy");

    static IObjectiveInstance Create(Decoder model, TaskData data, string options) =>
        new TextToTextObjective().Create(new ObjectiveContext(model, Bytes, data, JsonDocument.Parse(options).RootElement));

    /// <summary>&lt;eot&gt; + text as byte ids.</summary>
    static int[] Ids(string text) => [Bytes.EndOfText, .. Bytes.Encode(text)];

    [Fact]
    public void The_loss_is_the_mean_cross_entropy_of_the_answer_tokens_alone()
    {
        using var model = GoldenBytes.Model();
        using var objective = Create(model, Toy, Short);
        using var _ = torch.no_grad();
        float loss = objective.Loss(Toy.Train).item<float>();

        // By hand: each sequence is <eot> "s: TEXT =" " ANSWER" <eot>; only the answer's tokens and its end of text are predicted.
        int[] yes = [.. Ids("s: ok ="), .. Bytes.Encode(" yes"), Bytes.EndOfText];
        int[] no = [.. Ids("s: bad day ="), .. Bytes.Encode(" no"), Bytes.EndOfText];
        double sum = GoldenBytes.LogLikelihood(model, yes, Ids("s: ok =").Length)
            + GoldenBytes.LogLikelihood(model, no, Ids("s: bad day =").Length);
        Assert.Equal(-sum / (5 + 4), loss, 4);
        Assert.Empty(objective.Parameters);   // no head, no new parameters
    }

    [Fact]
    public void Constrained_decoding_takes_the_answer_with_the_highest_likelihood()
    {
        using var model = GoldenBytes.Model();
        using var objective = Create(model, Toy, Short);
        var prediction = objective.Predict(Toy.Dev)[0];
        var prompt = Ids("s: fine =");
        double[] byHand = new[] { "no", "yes" }.Select(w =>
            GoldenBytes.LogLikelihood(model, [.. prompt, .. Bytes.Encode(" " + w), Bytes.EndOfText], prompt.Length)).ToArray();
        Assert.Equal(Array.IndexOf(byHand, byHand.Max()), prediction.Label);
        double norm = byHand.Select(Math.Exp).Sum();
        for (int i = 0; i < 2; i++) Assert.Equal(Math.Exp(byHand[i]) / norm, prediction.Probabilities[i], 4);
        Assert.False(prediction.Invalid);
    }

    [Fact]
    public void Multiple_choice_scores_each_options_text_for_every_example_of_a_batch()
    {
        using var model = GoldenBytes.Model();
        var mc = new TaskData("toy-mc", InputFormat.MultipleChoice, [], [new Example(["sky"], 0, Options: ["blue", "red car"])],
            [new Example(["grass"], 1, Options: ["pink", "green leaf"]), new Example(["sea"], 2, Options: ["a", "bb", "wet"])],
            "accuracy");
        using var objective = Create(model, mc, """{"template": "q: {context} {options}", "separator": " ="}""");
        var predictions = objective.Predict(mc.Dev);
        for (int i = 0; i < mc.Dev.Count; i++)
        {
            var e = mc.Dev[i];
            var prompt = Ids($"q: {e.Segments[0]} {PrefixTemplate.Options(e.Options!)} =");
            double[] byHand = e.Options!.Select(w =>
                GoldenBytes.LogLikelihood(model, [.. prompt, .. Bytes.Encode(" " + w), Bytes.EndOfText], prompt.Length)).ToArray();
            double norm = byHand.Select(Math.Exp).Sum();
            Assert.Equal(e.Options!.Count, predictions[i].Probabilities.Count);
            Assert.Equal(Array.IndexOf(byHand, byHand.Max()), predictions[i].Label);
            for (int j = 0; j < byHand.Length; j++) Assert.Equal(Math.Exp(byHand[j]) / norm, predictions[i].Probabilities[j], 4);
        }
    }

    [Fact]
    public void A_generated_answer_counts_when_it_is_exactly_an_allowed_one()
    {
        var labels = new LabelAnswers(["no", "yes"]);
        var e = new Example(["x"], 1);
        Assert.Equal((1, false), (labels.FromText(e, " yes").Label, labels.FromText(e, " yes").Invalid));
        Assert.Equal([0.0, 1.0], labels.FromText(e, "yes").Probabilities);
        Assert.True(labels.FromText(e, "yes!").Invalid);
        Assert.Equal(-1, labels.FromText(e, "Yes").Label);   // exact match: case counts
        var options = new OptionAnswers();
        var mc = new Example(["c"], 0, Options: ["red car", "blue"]);
        Assert.Equal(0, options.FromText(mc, "red car").Label);
        Assert.True(options.FromText(mc, "red").Invalid);
    }

    [Fact]
    public void Free_decoding_is_greedy_generation_read_back_by_exact_match()
    {
        using var model = GoldenBytes.Model();
        using var objective = Create(model, Toy, Short);
        Assert.Equal(["free"], objective.Alternatives);
        var free = objective.PredictAlternative("free", Toy.Dev)[0];

        // By hand: full recomputation, one token at a time, until <eot> or the longest answer's length (" yes" + <eot> = 5).
        var ids = Ids("s: fine =").ToList();
        var generated = new List<int>();
        using (torch.no_grad())
            for (int step = 0; step < 5; step++)
            {
                int next = (int)model.Logits(torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0, -1].argmax().item<long>();
                if (next == Bytes.EndOfText) break;
                ids.Add(next);
                generated.Add(next);
            }
        var text = Bytes.Decode(generated).Trim();
        int expected = text == "no" ? 0 : text == "yes" ? 1 : -1;
        Assert.Equal(expected, free.Label);
        Assert.Equal(expected < 0, free.Invalid);
    }

    [Fact]
    public void Batched_greedy_generation_equals_one_sequence_at_a_time()
    {
        using var model = GoldenBytes.Model();
        using var _ = torch.no_grad();
        int[][] prompts = [Ids("a short one"), Ids("and a much longer prompt here")];
        var batched = TokenBatch.Greedy(model, prompts, 6, Bytes.EndOfText, Bytes.Pad, 64);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(TokenBatch.Greedy(model, [prompts[i]], 6, Bytes.EndOfText, Bytes.Pad, 64)[0], batched[i]);
    }

    [Fact]
    public void A_score_is_written_on_the_grid_and_read_back()
    {
        var answers = new ScoreAnswers(0.2, [0.0, 5.0, 2.5, 1.3]);
        var e = new Example(["a", "b"], Target: 3.79);
        var grid = answers.Candidates(e);
        Assert.Equal(26, grid.Count);
        Assert.Equal("0.0", grid[0]);
        Assert.Equal("5.0", grid[^1]);
        Assert.Equal("3.8", answers.Gold(e));
        foreach (var s in grid) Assert.Equal(s, answers.Format(ScoreAnswers.Parse(s)));   // every answer round-trips
        Assert.Equal(3.8, answers.FromText(e, " 3.8").Score, 10);
        var offGrid = answers.FromText(e, "3.9");
        Assert.True(offGrid.Invalid);
        Assert.Equal(2.2, offGrid.Score, 10);   // the training targets' mean: a guess that knows nothing of the input
        Assert.True(answers.FromText(e, "three").Invalid);
    }

    [Fact]
    public void Built_in_prefixes_are_T5s()
    {
        var rte = new TaskData("rte", InputFormat.Pair, ["entailment", "not_entailment"], [], [], "accuracy");
        var filled = PrefixTemplate.Parse(BuiltInPrefixes.For(rte), InputFormat.Pair, "t").Fill(new Example(["P.", "H."]));
        Assert.Equal("mnli hypothesis: H. premise: P.", filled);
        var copa = new TaskData("copa", InputFormat.MultipleChoice, [], [], [], "accuracy");
        Assert.Equal("question: c options: (A) x (B) y",
            PrefixTemplate.Parse(BuiltInPrefixes.For(copa), InputFormat.MultipleChoice, "t").Fill(new Example(["c"], Options: ["x", "y"])));
    }

    [Theory]
    [InlineData("""{"template": "s: {txt}"}""", "unknown slot {txt}")]
    [InlineData("""{"template": "s: nothing"}""", "must contain {text_a}")]
    [InlineData("""{"targets": {"neg": "no", "maybe": "m"}}""", "'maybe' is not a label")]
    [InlineData("""{"targets": {"neg": "same", "pos": "same"}}""", "share the target text")]
    [InlineData("""{"decoding": "beam"}""", "decoding")]
    [InlineData("""{"tasks": {"toy": {"template": "{text_b}"}}}""", "objective.options.tasks.toy.template")]
    [InlineData("""{"tasks": {"toys": {"template": "s: {text_a}"}}}""", "objective.options.tasks.toys: not a task of this run (toy)")]
    public void Bad_options_are_one_line_errors(string options, string message)
    {
        using var model = GoldenBytes.Model();
        var e = Assert.Throws<OptionsException>(() => Create(model, Toy, options));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Per_task_options_may_name_any_task_of_a_multi_task_run()
    {
        using var model = GoldenBytes.Model();
        var options = JsonDocument.Parse("""{"tasks": {"rte": {"template": "r: {text_a} {text_b}"}}}""").RootElement;
        using var toy = new TextToTextObjective().Create(new ObjectiveContext(model, Bytes, Toy, options) { RunTasks = ["toy", "rte"] });
        Assert.True(toy.Trains);
    }
}
