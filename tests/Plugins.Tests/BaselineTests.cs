using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Baselines;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

public class BaselineTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));
    static Decoder Tiny() { torch.manual_seed(5); var m = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize }); m.eval(); return m; }
    static JsonElement Json(string s) => JsonDocument.Parse(s).RootElement;

    static TaskData Sentiment(int train = 40) => new("toy", InputFormat.Single, ["bad", "good"],
        Enumerable.Range(0, train)
            .Select(i => new Example([i % 2 == 0 ? $"a dull film number {i}" : $"a lovely film number {i}"], Label: i % 2)).ToList(),
        [new Example(["a lovely film"], Label: 1), new Example(["a dull , long and tedious film that never ends"], Label: 0)], "accuracy");

    [Fact]
    public void Probe_freezes_the_body_and_leaves_only_the_head()
    {
        using var model = Tiny();
        using var probe = MethodInstaller.Attach(new LinearProbe(), model, Json("{}"));
        Assert.Empty(probe.Trainable);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        var head = new ClassifierHead().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"lm_coef": 0}""")));
        Assert.Equal(32 * 2 + 2, head.Parameters.Sum(p => p.Parameter.numel()));
    }

    [Fact]
    public void An_objectives_room_is_its_max_length_within_what_the_model_reads_less_virtual_tokens()
    {
        using var model = Tiny();
        var context = new ObjectiveContext(model, Tok, Sentiment(), Json("{}"));
        int all = model.Config.Context;
        Assert.Equal([all, 5, all], new[] { 0, 5, all + 10 }.Select(context.Room));
        using var prompt = MethodInstaller.Attach(new PluginGpt.Plugins.PromptTuning.PromptTuningMethod(), model,
            Json("""{"num_virtual_tokens": 4}"""));
        Assert.Equal(all - 4, context.Room(0));   // virtual tokens take their place in the context
    }

    [Fact]
    public void Mean_pooling_ignores_padding()
    {
        // The same example scored alone and beside a much longer one must get the same probabilities.
        using var model = Tiny();
        var head = new ClassifierHead().Create(
            new ObjectiveContext(model, Tok, Sentiment(), Json("""{"pooling": "mean", "dropout": 0}""")));
        var data = Sentiment();
        var alone = head.Predict([data.Dev[0]])[0].Probabilities;
        var padded = head.Predict([data.Dev[0], data.Dev[1]])[0].Probabilities;
        for (int i = 0; i < 2; i++) Assert.Equal(alone[i], padded[i], 6);
    }

    [Fact]
    public void Soft_targets_are_distilled_as_T_squared_times_KL_and_training_on_them_lowers_it()
    {
        using var model = Tiny();
        var data = Sentiment(8);
        double[][] targets = [[0.9, 0.1], [0.3, 0.7], [0.5, 0.5], [0.05, 0.95]];
        var soft = data.Train.Take(4).Select((e, i) => e with { Soft = targets[i] }).ToList();
        using var head = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data,
            Json("""{"lm_coef": 0, "dropout": 0, "temperature": 2}""")));
        double Expected()
        {
            // The head's logits z are log p up to a constant per example, so softmax(z / T) = softmax(log p / T).
            var p = head.Predict(soft);
            return soft.Select((e, i) =>
            {
                var scaled = p[i].Probabilities.Select(v => Math.Log(v) / 2).ToArray();
                double norm = Math.Log(scaled.Sum(Math.Exp));
                return 4 * e.Soft!.Select((q, l) => q * (Math.Log(q) - (scaled[l] - norm))).Sum();
            }).Average();
        }
        double before;
        using (torch.no_grad()) before = head.Loss(soft).item<float>();
        Assert.Equal(Expected(), before, 4);
        using var optimizer = torch.optim.Adam(head.Parameters.Select(x => x.Parameter), 0.05);
        for (int step = 0; step < 30; step++)
        {
            optimizer.zero_grad();
            head.Loss(soft).backward();
            optimizer.step();
        }
        Assert.True(Expected() < 0.9 * before, $"KL {Expected()} after training, {before} before");
        var mixed = new List<Example> { soft[0], data.Train[5] };
        Assert.Throws<DataException>(() => head.Loss(mixed));
    }

    [Fact]
    public void Aux_LM_loss_adds_lambda_times_the_LM_loss()
    {
        using var model = Tiny();
        var data = Sentiment();
        torch.manual_seed(1);
        var plain = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, Json("""{"lm_coef": 0, "dropout": 0}""")));
        torch.manual_seed(1);
        var withLm = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, Json("""{"lm_coef": 0.5, "dropout": 0}""")));
        using var _ = torch.no_grad();
        double l2 = plain.Loss(data.Train.Take(4).ToList()).item<float>();
        double l3 = withLm.Loss(data.Train.Take(4).ToList()).item<float>();
        // L1 of these inputs: the model's own next-token loss over the real tokens of the four transformed sequences.
        var seqs = data.Train.Take(4).Select(e => InputTransforms.Sequences(e, InputFormat.Single, Tok, 64)[0]).ToList();
        double sum = 0; int count = 0;
        foreach (var s in seqs)
        {
            var ids = torch.tensor(s.Select(i => (long)i).ToArray()).unsqueeze(0);
            var logp = model.Logits(ids[.., ..^1])[0].log_softmax(1);
            for (int t = 0; t < s.Length - 1; t++) { sum -= logp[t, s[t + 1]].item<float>(); count++; }
        }
        Assert.Equal(l2 + 0.5 * sum / count, l3, 4);
    }

    [Fact]
    public void In_context_uses_balanced_demonstrations_and_trains_nothing()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        var icl = new InContext().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"k": 4}""")));
        Assert.False(icl.Trains);
        Assert.Empty(icl.Parameters);
        long rowsBefore = model.LmHeadRows;
        var predictions = icl.Predict(Sentiment().Dev);
        Assert.Equal(Sentiment().Dev.Count, model.LmHeadRows - rowsBefore);   // one position per example: the label word's
        Assert.All(predictions, p => Assert.Equal(1.0, p.Probabilities.Sum(), 6));   // float32 log-softmax
        Assert.Equal(predictions.Select(p => p.Label), icl.Predict(Sentiment().Dev).Select(p => p.Label));   // deterministic
        icl.Save(dir.Path);
        var demos = JsonDocument.Parse(File.ReadAllText(dir["demonstrations.json"])).RootElement;
        Assert.Equal(4, demos.GetArrayLength());
        Assert.Equal(2, demos.EnumerateArray().Count(d => d.GetProperty("answer").GetString() == "good"));
    }

    [Fact]
    public void Calibration_makes_the_content_free_input_uniform()
    {
        using var model = Tiny();
        var icl = new InContext().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"k": 2, "calibrate": true}""")));
        var p = icl.Predict([new Example(["N/A"])])[0];
        Assert.Equal(0.5, p.Probabilities[0], 6);
        Assert.Equal(0.5, p.Probabilities[1], 6);
    }

    [Fact]
    public void Channel_in_context_scores_the_text_given_each_label_word_as_computed_by_hand()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        using var _ = torch.no_grad();
        var icl = new InContext().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"k": 2, "channel": true}""")));
        icl.Save(dir.Path);
        var shown = string.Concat(JsonDocument.Parse(File.ReadAllText(dir["demonstrations.json"])).RootElement.EnumerateArray()
            .Select(d => $"Answer: {d.GetProperty("answer").GetString()}\n{d.GetProperty("text")[0].GetString()}\n\n"));
        var query = Sentiment().Dev[1];
        var text = Tok.Encode("\n" + query.Segments[0]);
        // log P(text | demonstrations, "Answer: w") from the whole sequence's logits, per label word, renormalised.
        var byHand = new[] { "bad", "good" }.Select(w =>
        {
            var ids = Tok.Encode(shown + "Answer: " + w).Concat(text).Select(i => (long)i).ToArray();
            var logp = model.LmHead(model.Forward(torch.tensor(ids).unsqueeze(0)))[0].log_softmax(1);
            int from = ids.Length - text.Length;
            return Enumerable.Range(from, text.Length).Sum(t => (double)logp[t - 1, ids[t]].item<float>());
        }).ToArray();
        double norm = Math.Log(byHand.Sum(Math.Exp));
        long rowsBefore = model.LmHeadRows;
        var p = icl.Predict([query])[0];
        Assert.Equal(2 * text.Length, model.LmHeadRows - rowsBefore);   // only the text's positions, once per label
        Assert.Equal(Math.Exp(byHand[0] - norm), p.Probabilities[0], 4);
        Assert.Equal(Math.Exp(byHand[1] - norm), p.Probabilities[1], 4);

        foreach (var (options, field) in new[]
                 {
                     ("""{"channel": true, "calibrate": true}""", "objective.options.channel"),
                     ("""{"channel": true, "template": "{0} it was {label}"}""", "objective.options.template"),
                 })
        {
            var e = Assert.Throws<OptionsException>(() =>
                new InContext().Create(new ObjectiveContext(model, Tok, Sentiment(), Json(options))));
            Assert.Contains(field, e.Message);
        }
        var choice = new TaskData("mc", InputFormat.MultipleChoice, [], [new Example(["x"], Label: 0, Options: ["a", "b"])], [],
            "accuracy");
        Assert.Contains("objective.options.channel", Assert.Throws<OptionsException>(() =>
            new InContext().Create(new ObjectiveContext(model, Tok, choice, Json("""{"channel": true}""")))).Message);
    }

    [Fact]
    public void In_context_refuses_a_verbalizer_of_the_wrong_size()
    {
        using var model = Tiny();
        var e = Assert.Throws<OptionsException>(() =>
            new InContext().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"verbalizer": ["meh"]}"""))));
        Assert.Contains("objective.options.verbalizer", e.Message);
    }

    [Fact]
    public void In_context_scores_multiple_choice_options_by_their_log_probability()
    {
        using var model = Tiny();
        var task = new TaskData("mc", InputFormat.MultipleChoice, [], [new Example(["the sky is"], Label: 0, Options: ["blue", "loud"])],
            [new Example(["the grass is"], Label: 0, Options: ["green", "sad", "fast"])], "accuracy");
        var icl = new InContext().Create(new ObjectiveContext(model, Tok, task, Json("""{"k": 1}""")));
        long rowsBefore = model.LmHeadRows;
        var p = Assert.Single(icl.Predict(task.Dev));
        // Only the positions that predict an option's tokens go through the LM head.
        Assert.Equal(new[] { "green", "sad", "fast" }.Sum(o => Tok.Encode(" " + o).Length), model.LmHeadRows - rowsBefore);
        Assert.Equal(3, p.Probabilities.Count);
        Assert.Equal(p.Probabilities.ToList().IndexOf(p.Probabilities.Max()), p.Label);
    }

    [Fact]
    public void A_probe_reads_any_layer_and_the_decoder_hands_out_every_layers_state()
    {
        using var model = Tiny();
        var ids = torch.tensor(Tok.Encode("a lovely film").Select(i => (long)i).ToArray()).unsqueeze(0);
        var states = new List<Tensor>();
        using (torch.no_grad())
        {
            var final = ((IDecoder)model).Forward(ids, null, states);
            Assert.Equal(Presets.Tiny.Layers + 1, states.Count);   // embeddings, then each block
            Assert.True(final.allclose(model.Forward(ids), rtol: 0, atol: 0));
        }
        // A probe at layer k reads the same state and runs no later block (a TorchSharp hook on each block's MLP counts them).
        var layersRun = new List<int>();
        var hooks = Enumerable.Range(0, Presets.Tiny.Layers).Select(i => model.GetModule(model.SubLayerPath(i, SubLayer.FeedForward))
            .register_forward_hook((_, _, output) => { layersRun.Add(i); return output; })).ToList();
        using (torch.no_grad())
            for (int k = 0; k <= Presets.Tiny.Layers; k++)
            {
                layersRun.Clear();
                Assert.True(((IDecoder)model).ForwardToLayer(ids, null, k).allclose(states[k], rtol: 0, atol: 0));
                Assert.Equal(Enumerable.Range(0, k), layersRun);
            }
        foreach (var hook in hooks) hook.remove();
        var data = Sentiment();
        var heads = Enumerable.Range(0, Presets.Tiny.Layers + 1)
            .Select(layer => new ClassifierHead().Create(
                new ObjectiveContext(model, Tok, data, Json($$"""{"layer": {{layer}}, "dropout": 0}""")))).ToList();
        var probabilities = heads.Select(h => { torch.manual_seed(1); return h.Predict([data.Dev[0]])[0].Probabilities[1]; }).ToList();
        Assert.Equal(probabilities.Count, probabilities.Distinct().Count());   // each layer is a different input to the head
        var e = Assert.Throws<OptionsException>(() =>
            new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, Json("""{"layer": 3}"""))));
        Assert.Contains("objective.options.layer", e.Message);
        foreach (var h in heads) h.Dispose();
    }

    [Fact]
    public void Similarity_orders_combine_by_sum_or_by_concatenation()
    {
        using var model = Tiny();
        var pairs = new TaskData("pairs", InputFormat.SymmetricPair, ["different", "same"],
            [new Example(["a film", "a movie"], Label: 1), new Example(["a film", "a cat"], Label: 0)],
            [new Example(["a film", "a movie"], Label: 1)], "accuracy");
        using var sum = new ClassifierHead().Create(new ObjectiveContext(model, Tok, pairs, Json("""{"dropout": 0}""")));
        using var concat = new ClassifierHead().Create(
            new ObjectiveContext(model, Tok, pairs, Json("""{"combine": "concat", "dropout": 0}""")));
        Assert.Equal(new long[] { 2, 32 }, sum.Parameters[0].Parameter.shape);
        Assert.Equal(new long[] { 2, 64 }, concat.Parameters[0].Parameter.shape);   // both orders side by side
        // Summed, the two orders are interchangeable: swapping the texts changes nothing.
        var swapped = new Example(["a movie", "a film"], Label: 1);
        Assert.Equal(sum.Predict([pairs.Dev[0]])[0].Probabilities[1], sum.Predict([swapped])[0].Probabilities[1], 6);
        Assert.True(float.IsFinite(concat.Loss(pairs.Train).item<float>()));
        Assert.Throws<OptionsException>(() =>
            new ClassifierHead().Create(new ObjectiveContext(model, Tok, Sentiment(), Json("""{"combine": "concat"}"""))));
    }
}
