using System.Diagnostics.Metrics;
using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Baselines;
using PluginGpt.Plugins.Tasks;
using TorchSharp;

namespace PluginGpt.Plugins.Tests;

/// <summary>Alone: a MeterListener (the step-time test) hears every training loop of the process.</summary>
[CollectionDefinition(nameof(FineTunerTests), DisableParallelization = true)]
public sealed class FineTunerCollection;

[Collection(nameof(FineTunerTests))]
public class FineTunerTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));

    /// <summary>Trains one optimizer step and returns the head's weights afterwards.</summary>
    static float[] OneStep(int batchSize, int accumulation)
    {
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var data = task.LoadBuiltIn("sst2", 16, 4);
        torch.manual_seed(9);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        var objective = new ClassifierHead().Create(
            new ObjectiveContext(model, Tok, data, JsonDocument.Parse("""{"lm_coef": 0, "dropout": 0}""").RootElement));
        var spec = new TrainingSpec
        {
            Epochs = 1,
            BatchSize = batchSize,
            GradientAccumulation = accumulation,
            LearningRate = 1e-2,
            WarmupFraction = 0,
            MaxSteps = 1,
        };
        FineTuner.Run(new FineTuneJob(model, method, objective, task, data, spec, 3, dir.Path));
        return objective.Parameters[0].Parameter.data<float>().ToArray();
    }

    [Fact]
    public void Two_accumulated_half_batches_make_the_same_step_as_one_full_batch()
    {
        var full = OneStep(16, 1);
        var accumulated = OneStep(8, 2);
        Assert.Equal(full.Length, accumulated.Length);
        for (int i = 0; i < full.Length; i++) Assert.Equal(full[i], accumulated[i], 4);
        Assert.NotEqual(full, OneStep(8, 1));   // one half-batch alone is a different step
    }

    [Fact]
    public void The_shared_loop_frees_every_tensor_it_makes()
    {
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var data = task.LoadBuiltIn("sst2", 32, 8);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        using var objective = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, default));
        var spec = new TrainingSpec { Epochs = 2, BatchSize = 8, GradientAccumulation = 2, LearningRate = 1e-3 };
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        FineTuner.Run(new FineTuneJob(model, method, objective, task, data, spec, 3, dir.Path));
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData("best", new[] { 1, 2, 3 })]
    [InlineData("last", new[] { 3 })]   // few-shot protocol: the dev set is scored once, after training
    public void Keep_last_scores_the_dev_set_once_and_keeps_the_final_weights(string keep, int[] evaluatedEpochs)
    {
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var data = task.LoadBuiltIn("sst2", 16, 8);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        using var objective = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, default));
        var spec = new TrainingSpec { Epochs = 3, BatchSize = 8, LearningRate = 1e-3, Keep = keep };
        var result = FineTuner.Run(new FineTuneJob(model, method, objective, task, data, spec, 3, dir.Path));
        var evaluations = RunFiles.ReadLines(Path.Combine(dir.Path, RunFiles.MetricsLines)).Where(l => l.Eval is not null).ToList();
        Assert.Equal(evaluatedEpochs, evaluations.Select(l => l.Epoch!.Value));
        if (keep == "last")
        {
            Assert.Equal(3, result.BestEpoch);
            Assert.Equal(evaluations[0].Eval!["accuracy"], result.Metrics["accuracy"]);
            // best/ holds the final weights: reloading them scores what the last evaluation scored.
            var final = objective.Parameters[0].Parameter.data<float>().ToArray();
            using (torch.no_grad()) objective.Parameters[0].Parameter.zero_();
            objective.Load(Path.Combine(dir.Path, FineTuner.BestDir));
            Assert.Equal(final, objective.Parameters[0].Parameter.data<float>().ToArray());
        }
    }

    [Theory]
    [InlineData(100, 32, 1, 3, 0, 12)]
    [InlineData(100, 32, 2, 3, 0, 6)]    // 4 batches an epoch → 2 steps
    [InlineData(96, 32, 2, 2, 0, 4)]     // 3 batches → 2 steps (the odd batch still steps)
    [InlineData(100, 32, 1, 3, 5, 5)]    // max_steps caps
    public void Step_count(int examples, int batch, int accumulation, int epochs, int maxSteps, int expected) =>
        Assert.Equal(expected, FineTuner.TotalSteps(examples,
            new TrainingSpec { BatchSize = batch, GradientAccumulation = accumulation, Epochs = epochs, MaxSteps = maxSteps }));

    /// <summary>An objective whose loss is known in advance: each batch's examples' targets, averaged, split into two named
    /// terms.</summary>
    sealed class KnownLoss(Decoder model) : IObjectiveInstance
    {
        public bool Trains => true;
        public IReadOnlyDictionary<string, double>? LossParts { get; private set; }

        public torch.Tensor Loss(IReadOnlyList<Example> batch)
        {
            double value = batch.Average(e => e.Target);
            LossParts = new Dictionary<string, double> { ["a"] = value / 4, ["b"] = 3 * value / 4 };
            // Tied to a weight so that backward has something to do; 0 × weight leaves the value exact.
            return (model.parameters().First() * 0).sum() + value;
        }

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch) => [.. batch.Select(_ => new Prediction(0, 1, [1.0]))];
    }

    [Fact]
    public void Metrics_lines_hold_each_steps_own_loss_and_its_terms_across_epochs()
    {
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var train = Enumerable.Range(0, 8).Select(i => new Example(["x"], 0, Target: i)).ToList();
        var data = new TaskData("known", InputFormat.Single, ["a"], train, [new Example(["x"], 0)], "accuracy");
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        var spec = new TrainingSpec { Epochs = 2, BatchSize = 2, GradientAccumulation = 2, LearningRate = 1e-3, Keep = "last" };
        FineTuner.Run(new FineTuneJob(model, method, new KnownLoss(model), task, data, spec, 3, dir.Path));
        var steps = RunFiles.ReadLines(Path.Combine(dir.Path, RunFiles.MetricsLines)).Where(l => l.Loss is not null).ToList();
        Assert.Equal(4, steps.Count);   // 8 examples, 2 a batch, 2 batches a step, 2 epochs
        // Each epoch's steps together see every example once: their mean is the mean target 3.5, in both epochs, and no step
        // carries an earlier step's value (a running mean's last step would equal the epoch mean, its first would not).
        foreach (var epoch in steps.GroupBy(s => s.Epoch))
            Assert.Equal(3.5, epoch.Average(s => s.Loss!.Value), 6);
        foreach (var s in steps)
        {
            Assert.Equal(s.Loss!.Value, s.Parts!["a"] + s.Parts["b"], 6);
            Assert.Equal(s.Loss!.Value / 4, s.Parts["a"], 6);
            Assert.Equal(Math.Round(s.Loss!.Value * 4), s.Loss!.Value * 4, 6);   // the mean of 4 integer targets: a multiple of 1/4
        }
        Assert.NotEqual(steps[0].Loss, steps[1].Loss);
    }

    [Fact]
    public void Step_time_is_one_optimizer_step_with_all_its_accumulated_micro_batches()
    {
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var data = task.LoadBuiltIn("sst2", 64, 8);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        using var objective = new ClassifierHead().Create(
            new ObjectiveContext(model, Tok, data, JsonDocument.Parse("""{"lm_coef": 0}""").RootElement));
        var spec = new TrainingSpec { Epochs = 2, BatchSize = 4, GradientAccumulation = 4, LearningRate = 1e-3 };

        var stepTimes = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "plugingpt.train.step_time") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => { lock (stepTimes) stepTimes.Add(value); });
        listener.Start();
        var result = FineTuner.Run(new FineTuneJob(model, method, objective, task, data, spec, 3, dir.Path));
        listener.Dispose();

        // 64 examples, 4 per micro-batch, 4 micro-batches per step: 4 steps an epoch.
        Assert.Equal(8, result.Steps);
        Assert.Equal(8, stepTimes.Count);
        // The steps tile each epoch's training time: their sum is the training time (less the last step's bookkeeping), not a
        // quarter of it as a per-micro-batch time would be.
        double trainingSeconds = 2 * 64 / result.ExamplesPerSecond!.Value;
        Assert.InRange(stepTimes.Sum(), 0.7 * trainingSeconds, 1.0001 * trainingSeconds);
    }
}
