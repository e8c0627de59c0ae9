global using PluginGpt.Abstractions;
global using PluginGpt.TestSupport;
global using Xunit;

namespace PluginGpt.Plugins.Tests;

public static class Repo
{
    public static string Root => PluginGpt.TestSupport.RepoPaths.Root;
    public static string Data => PluginGpt.TestSupport.RepoPaths.Data();
}

public static class TaskLoading
{
    /// <summary>A shipped data set through the task plugin, as an experiment's task object would name it.</summary>
    public static TaskData LoadBuiltIn(this PluginGpt.Abstractions.ITaskPlugin task, string dataset, int maxTrain = 0, int maxDev = 0,
        int seed = 42) =>
        task.Load(new PluginGpt.Abstractions.TaskContext(
            System.Text.Json.JsonSerializer.SerializeToElement(new { dataset, max_train = maxTrain, max_dev = maxDev }), Repo.Data, seed));
}
