using System.Diagnostics.Metrics;
using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Baselines;
using PluginGpt.Plugins.Tasks;

namespace PluginGpt.Plugins.Tests;

/// <summary>Alone: a MeterListener hears every training loop of the process.</summary>
[CollectionDefinition(nameof(StepTimeTests), DisableParallelization = true)]
public sealed class StepTimeCollection;

[Collection(nameof(StepTimeTests))]
public class StepTimeTests
{
    [Fact]
    public void Step_time_is_one_optimizer_step_with_all_its_accumulated_micro_batches()
    {
        var tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));
        using var dir = new TempDir();
        var task = new ClassificationTask();
        var data = task.LoadBuiltIn("sst2", 64, 8);
        using var model = new Decoder(Presets.Tiny with { Vocab = tok.VocabSize });
        using var method = MethodInstaller.Attach(new FullFineTuning(), model, default);
        using var objective = new ClassifierHead().Create(
            new ObjectiveContext(model, tok, data, JsonDocument.Parse("""{"lm_coef": 0}""").RootElement));
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
