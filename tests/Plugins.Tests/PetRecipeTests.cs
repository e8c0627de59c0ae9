using System.Text.Json;
using System.Text.RegularExpressions;
using PluginGpt.Plugins.PET;

namespace PluginGpt.Plugins.Tests;

/// <summary>
/// The PET and iPET recipes driven against a recording runner whose models answer with known probabilities: which runs they
/// ask for, the weights, the ensemble, the soft labels and iPET's growing training sets, checked against numbers computed
/// here by hand.
/// </summary>
public class PetRecipeTests
{
    const int TrainCount = 10, DevCount = 6, PoolCount = 300;

    /// <summary>A runner whose models are deterministic functions of run folder and example; it records every call.</summary>
    sealed class RecordingRunner : IExperimentRunner
    {
        public readonly List<(ExperimentSpec Spec, TaskData Data)> Runs = [];
        public IReadOnlyList<StageResult>? Reported;

        public static readonly TaskData Data = new("sst2", InputFormat.Single, ["negative", "positive"],
            Enumerable.Range(0, TrainCount).Select(i => new Example([$"t{i}"], Label: i < 3 ? 0 : 1)).ToList(),   // 3 : 7
            Enumerable.Range(0, DevCount).Select(i => new Example([$"d{i}"], Label: i % 2)).ToList(), "accuracy",
            Enumerable.Range(0, PoolCount).Select(i => new Example([$"u{i}"])).ToList());

        /// <summary>Zero-shot run of pattern p: right on the first 2p+2 training examples (accuracy (2p+2)/10), and on pool example
        /// n p(positive) = 0.05 + (n mod 10)/10. A trained model: p(positive) from the run's and example's numbers.</summary>
        public static double Positive(string run, string text)
        {
            int n = int.Parse(text[1..]);
            int pattern = int.Parse(Regex.Match(Path.GetFileName(run), @"(?:^|-)p(\d)").Groups[1].Value);
            if (run.EndsWith("zero-shot", StringComparison.Ordinal))
                return text[0] == 'u' ? 0.05 + n % 10 / 10.0
                    : text[0] == 't' && n < 2 * pattern + 2 == (Data.Train[n].Label == 1) ? 0.8 : 0.2;
            return 0.05 + 0.9 * ((n * 7 + pattern * 3 + run.Length) % 11) / 10.0;
        }

        public Task<RunResult> RunAsync(ExperimentSpec spec, CancellationToken cancel) => throw new NotSupportedException();

        public Task<RunResult> RunAsync(ExperimentSpec spec, TaskData data, CancellationToken cancel)
        {
            Runs.Add((spec, data));
            return Task.FromResult(new RunResult(spec.Output!, new Dictionary<string, double> { ["accuracy"] = Runs.Count }, 0, 0));
        }

        public TaskData LoadTask(ExperimentSpec spec) => Data;

        public IReadOnlyList<Prediction> Predict(string runDirectory, IReadOnlyList<Example> examples, CancellationToken cancel) =>
            examples.Select(e =>
            {
                double p = Positive(runDirectory.Replace('\\', '/'), e.Segments[0]);
                return new Prediction(p > 0.5 ? 1 : 0, Math.Max(p, 1 - p), [1 - p, p]);
            }).ToList();

        public IReadOnlyDictionary<string, double> Score(ExperimentSpec spec, IReadOnlyList<Prediction> predictions,
            IReadOnlyList<Example> gold) =>
            new Dictionary<string, double> { ["accuracy"] = predictions.Zip(gold).Average(x => x.First.Label == x.Second.Label ? 1.0 : 0) };

        public RunResult Report(string directory, ExperimentSpec spec, IReadOnlyList<StageResult> stages, double seconds)
        {
            Reported = stages;
            return new RunResult(directory, stages[^1].Metrics, 0, seconds);
        }
    }

    static ExperimentSpec Spec(string recipe, string options, string output) => new()
    {
        Name = "x",
        Model = new ModelSpec { Preset = "tiny" },
        Objective = new PluginChoice { Name = "pet", Options = JsonDocument.Parse("""{"lm_alpha": 0.5}""").RootElement },
        Recipe = new PluginChoice { Name = recipe, Options = JsonDocument.Parse(options).RootElement },
        Output = output,
    };

    static double[] Row(string run, string text) { double p = RecordingRunner.Positive(run, text); return [Math.Log(1 - p), Math.Log(p)]; }

    [Fact]
    public async Task PET_weighs_each_pattern_by_its_zero_shot_training_accuracy_and_distils_softmax_of_the_mean_at_T()
    {
        using var dir = new TempDir();
        var runner = new RecordingRunner();
        var spec = Spec("pet", """{"patterns": [0, 1], "models_per_pattern": 2, "temperature": 2}""", dir.Path);
        await new PetRecipe().RunAsync(spec, runner, default);

        // Runs: p0 zero-shot, p0 m0, p0 m1, p1 zero-shot, p1 m0, p1 m1, distilled.
        var names = runner.Runs.Select(r => Path.GetFileName(r.Spec.Output!)).ToList();
        Assert.Equal(["p0-zero-shot", "p0-m0", "p0-m1", "p1-zero-shot", "p1-m0", "p1-m1", "distilled"], names);
        var zeroShot = runner.Runs[0].Spec.Objective.Options!.Value;
        Assert.True(zeroShot.GetProperty("zero_shot").GetBoolean());
        Assert.Equal(0, zeroShot.GetProperty("pattern_id").GetInt32());
        Assert.Equal(0.5, zeroShot.GetProperty("lm_alpha").GetDouble());   // the experiment's own options are kept
        Assert.Equal(1, runner.Runs[4].Spec.Objective.Options!.Value.GetProperty("pattern_id").GetInt32());
        Assert.NotEqual(runner.Runs[1].Spec.Seed, runner.Runs[2].Spec.Seed);   // a pattern's models differ by seed
        Assert.All(runner.Runs, r => Assert.Null(r.Spec.Recipe));
        Assert.All(runner.Runs.Take(6), r => Assert.Same(RecordingRunner.Data.Train, r.Data.Train));

        // Weights: p0 is right on 2 of 10 training examples, p1 on 4 → 0.2 and 0.4.
        var stages = runner.Reported!;
        Assert.Equal(0.2, stages[0].Metrics["train_accuracy"], 12);
        Assert.Equal(0.4, stages[2].Metrics["train_accuracy"], 12);
        Assert.Equal(["p0 zero-shot", "p0 trained", "p1 zero-shot", "p1 trained", "ensemble", "distilled"], stages.Select(s => s.Name));
        Assert.Equal(2.5, stages[1].Metrics["accuracy"]);   // mean of the recording runner's run counters 2 and 3

        // The distilled model's training set: the pool with softmax(Σ w·log p / Σ w / 2).
        var runs = new[] { "p0-m0", "p0-m1", "p1-m0", "p1-m1" }.Select(n => Path.Combine(dir.Path, n).Replace('\\', '/')).ToArray();
        double[] weights = [0.2, 0.2, 0.4, 0.4];
        var distilled = runner.Runs[^1];
        Assert.Equal("classifier-head", distilled.Spec.Objective.Name);
        Assert.Equal(2, distilled.Spec.Objective.Options!.Value.GetProperty("temperature").GetDouble());
        Assert.Equal(PoolCount, distilled.Data.Train.Count);
        for (int i = 0; i < PoolCount; i += 37)
        {
            var mean = new double[2];
            for (int m = 0; m < 4; m++)
                for (int l = 0; l < 2; l++) mean[l] += weights[m] * Row(runs[m], $"u{i}")[l] / 1.2;
            double positive = 1 / (1 + Math.Exp((mean[0] - mean[1]) / 2));
            Assert.Equal(positive, distilled.Data.Train[i].Soft![1], 12);
            Assert.Equal(positive > 0.5 ? 1 : 0, distilled.Data.Train[i].Label);
        }
        Assert.Equal(PoolCount, File.ReadLines(Path.Combine(dir.Path, "soft-labels.jsonl")).Count());

        // The ensemble's dev accuracy: the same weighted mean on the dev set, argmax against the dev labels.
        double expected = Enumerable.Range(0, DevCount).Average(i =>
        {
            double margin = Enumerable.Range(0, 4).Sum(m => weights[m] * (Row(runs[m], $"d{i}")[1] - Row(runs[m], $"d{i}")[0]));
            return (margin > 0 ? 1 : 0) == i % 2 ? 1.0 : 0;
        });
        Assert.Equal(expected, stages[4].Metrics["accuracy"], 12);
    }

    [Fact]
    public async Task Zero_shot_IPET_starts_from_the_untrained_patterns_labels_of_the_pools_likeliest_examples()
    {
        using var dir = new TempDir();
        var runner = new RecordingRunner();
        const string options =
            """{"zero_shot": true, "patterns": [0, 1], "models_per_pattern": 1, "generations": 2, "n_most_likely": 20}""";
        var spec = Spec("ipet", options, dir.Path);
        await new IpetRecipe().RunAsync(spec, runner, default);

        var names = runner.Runs.Select(r => Path.GetFileName(r.Spec.Output!)).ToList();
        Assert.Equal(["p0-zero-shot", "p1-zero-shot", "g0-p0-m0", "g0-p1-m0", "g1-p0-m0", "g1-p1-m0", "distilled"], names);
        Assert.All(runner.Runs, r => Assert.DoesNotContain(r.Data.Train, e => e.Segments[0].StartsWith('t')));   // T is never read
        Assert.DoesNotContain("train_accuracy", runner.Reported![0].Metrics.Keys);   // no T to weigh the patterns by

        // Generation 0: PET's 10 examples (5 a label: uniform without T), each label drawn among the pool's 20 likeliest for it.
        // The zero-shot models give pool example n p(positive) = 0.05 + (n mod 10)/10: the 30 with n mod 10 = 9 are the likeliest
        // positives (0.95), the 30 with n mod 10 = 0 the likeliest negatives.
        foreach (var (_, data) in runner.Runs.Skip(2).Take(2))
        {
            Assert.Equal(10, data.Train.Count);
            Assert.All(data.Train.Where(e => e.Label == 1), e => Assert.EndsWith("9", e.Segments[0]));
            Assert.All(data.Train.Where(e => e.Label == 0), e => Assert.EndsWith("0", e.Segments[0]));
            Assert.Equal(5, data.Train.Count(e => e.Label == 1));
        }
        // Generation 1: 10·5 = 50, labelled by generation 0's other models, half a label.
        foreach (var (_, data) in runner.Runs.Skip(4).Take(2))
        {
            Assert.Equal(50, data.Train.Count);
            Assert.Equal(25, data.Train.Count(e => e.Label == 1));
        }
    }

    [Fact]
    public async Task IPET_grows_each_generation_by_the_factor_keeping_the_label_ratio_of_T()
    {
        using var dir = new TempDir();
        var runner = new RecordingRunner();
        var spec = Spec("ipet", """{"patterns": [0, 1], "models_per_pattern": 2, "generations": 3}""", dir.Path);
        await new IpetRecipe().RunAsync(spec, runner, default);

        var training = runner.Runs.Where(r => !r.Spec.Output!.Contains("zero-shot") && !r.Spec.Output.EndsWith("distilled")).ToList();
        Assert.Equal(12, training.Count);   // 3 generations × 2 patterns × 2 models
        foreach (var (run, index) in training.Select((r, i) => (r, i)))
        {
            int generation = index / 4;
            // |T|·5^g: 10, 50, 250; the new examples keep T's 3 : 7 ratio (12 : 28, then 72 : 168).
            int[] expectedNew = generation switch { 0 => [0, 0], 1 => [12, 28], _ => [72, 168] };
            var added = run.Data.Train.Skip(TrainCount).ToList();
            Assert.Equal(expectedNew, new[] { added.Count(e => e.Label == 0), added.Count(e => e.Label == 1) });
            Assert.Equal(RecordingRunner.Data.Train, run.Data.Train.Take(TrainCount));
            Assert.StartsWith($"g{generation}-", Path.GetFileName(run.Spec.Output!));
        }
        Assert.Equal(["p0 zero-shot", "p1 zero-shot", "g0 models", "g1 models", "g2 models", "g2 ensemble", "distilled"],
            runner.Reported!.Select(s => s.Name));
    }

    [Fact]
    public void The_draw_takes_confident_examples_more_often_and_repeats_a_label_with_too_few()
    {
        // Two candidates for label 1 with confidence 0.95 and 0.55: drawn one at a time, 0.95 / 1.5 of the draws take the first.
        var pool = new[] { new Example(["a"]), new Example(["b"]), new Example(["c"]) };
        double[][] probabilities = [[0.05, 0.95], [0.45, 0.55], [0.9, 0.1]];
        var rng = new Random(5);
        int first = 0, trials = 4000;
        for (int i = 0; i < trials; i++)
            if (IpetDraw.Draw(pool, probabilities, [0, 1], rng)[0].Segments[0] == "a") first++;
        Assert.Equal(0.95 / 1.5, first / (double)trials, 0.03);

        // Label 0 has one candidate but asks for three: it is repeated; labels follow the ensemble's argmax.
        var drawn = IpetDraw.Draw(pool, probabilities, [3, 2], new Random(1));
        Assert.Equal(["c", "c", "c"], drawn.Where(e => e.Label == 0).Select(e => e.Segments[0]));
        Assert.Equal(["a", "b"], drawn.Where(e => e.Label == 1).Select(e => e.Segments[0]).Order());
        // No example predicted as label 0 (all confident in 1): the two likeliest for label 0 are taken, the ratio holds.
        double[][] oneSided = [[0.05, 0.95], [0.45, 0.55], [0.3, 0.7]];
        var balanced = IpetDraw.Draw(pool, oneSided, [2, 1], new Random(2));
        Assert.Equal(["b", "c"], balanced.Where(e => e.Label == 0).Select(e => e.Segments[0]).Order());
        Assert.Single(balanced, e => e.Label == 1);
        Assert.Equal(40, IpetDraw.NewExamples(10, 5, 1));
        Assert.Equal(240, IpetDraw.NewExamples(10, 5, 2));
    }

    [Fact]
    public void The_ensemble_is_the_weighted_mean_and_soft_labels_soften_with_temperature()
    {
        double[][] a = [[-0.1, -2.0]], b = [[-3.0, -0.05]];
        var merged = Ensemble.Merge([a, b], [0.75, 0.25]);
        Assert.Equal(0.75 * -0.1 + 0.25 * -3.0, merged[0][0], 12);
        Assert.Equal(0.75 * -2.0 + 0.25 * -0.05, merged[0][1], 12);
        double margin = merged[0][0] - merged[0][1];
        Assert.Equal(1 / (1 + Math.Exp(-margin)), Ensemble.Softmax(merged[0], 1)[0], 12);
        Assert.Equal(1 / (1 + Math.Exp(-margin / 2)), Ensemble.Softmax(merged[0], 2)[0], 12);
        Assert.Equal(Ensemble.Merge([a, b], [1, 1]), Ensemble.Merge([a, b], [0, 0]));   // no pattern right on T: equal votes
    }

    [Theory]
    [InlineData("pet", """{"models_per_pattern": 0}""", "recipe.options.models_per_pattern")]
    [InlineData("pet", """{"weighting": "votes"}""", "recipe.options.weighting")]
    [InlineData("pet", """{"patterns": [true]}""", "recipe.options.patterns")]
    [InlineData("pet", """{"final": {"training": {"epoch": 2}}}""", "recipe.options.final.training.epoch")]
    [InlineData("ipet", """{"growth": 1}""", "recipe.options.growth")]
    [InlineData("ipet", """{"ensemble_share": 0}""", "recipe.options.ensemble_share")]
    [InlineData("pet", """{"tempreature": 2}""", "recipe.options")]
    public async Task Bad_recipe_options_name_their_field(string recipe, string options, string field)
    {
        using var dir = new TempDir();
        IRecipe plugin = recipe == "pet" ? new PetRecipe() : new IpetRecipe();
        var e = await Assert.ThrowsAsync<OptionsException>(
            () => plugin.RunAsync(Spec(recipe, options, dir.Path), new RecordingRunner(), default));
        Assert.StartsWith(field, e.Message);
    }
}
