using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>A run's task data is read from its files once: by a PET recipe for all its stages and its report, and by
/// <c>predict</c> for the examples' format and the reopened run alike.</summary>
public class TaskDataOnceTests
{
    static ExperimentRunner NewRunner() =>
        new(PluginCatalog.Load(PluginFolders.Resolve(null)), (_, _, work) => work(new Progress<TrainingProgress>()));

    [Fact]
    public async Task A_PET_recipe_and_a_prediction_each_load_the_task_once()
    {
        using var dir = new TempDir();
        var output = dir["pet"];
        var spec = ExperimentFile.Load(Experiments.Tiny, [$"output={output}", "method.name=full", "objective.name=pet",
            "objective.options={\"max_length\": 48}",
            "recipe={\"name\": \"pet\", \"options\": {\"patterns\": [0, 1], \"models_per_pattern\": 1}}",
            "task.max_train=8", "task.balance_train=true", "task.max_unlabelled=16", "task.max_dev=8", "training.epochs=1"]);
        var runner = NewRunner();
        await runner.RunAsync(spec, CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(output, "distilled", "metrics.json")));
        Assert.Equal(1, runner.TaskLoads);   // 5 stages, the ensemble's scoring and the recipe's report share one copy

        var stage = Path.Combine(output, "distilled");
        var counting = NewRunner();
        var data = counting.Finished.LoadTask(ExperimentFile.Load(Path.Combine(stage, "config.json"), []), null, stage);
        var predictions = counting.Finished.Predict(stage, [.. data.Dev.Take(3)], null, CancellationToken.None);
        Assert.Equal(3, predictions.Count);
        Assert.Equal(1, counting.TaskLoads);   // as `predict` does it: the format, then the run reopened
    }
}
