using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.T5Prefix;

/// <summary>
/// <c>multi-vs-single</c>: T5's comparison of multi-task training with single-task training at the same budget (Raffel et al.
/// 2020, §3.5.2, table 13). The experiment names several <c>tasks</c>; the recipe trains one model on their mixture, then one
/// model per task alone, each for the same <c>training.max_steps</c> with the same batch, method and objective, and reports two
/// stages, <c>single-task</c> (every task's metrics from its own model) and <c>multi-task</c> (the one model's), as a table
/// and a chart of each task's primary metric. Its result is the multi-task model.
/// </summary>
public sealed class MultiVsSingleRecipe : IRecipe
{
    public PluginManifest Manifest { get; } = new("multi-vs-single", PluginKind.Recipe, "1.0.0",
        "T5's multi-task vs single-task comparison: one model on the task mixture, one per task, the same steps each.");

    sealed record Options;

    public bool AcceptsSeveralTasks => true;

    public async Task<RunResult> RunAsync(ExperimentSpec spec, IExperimentRunner runner, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        PluginOptions.Bind<Options>(spec.Recipe?.Options ?? default, "recipe.options");
        if (spec.Tasks is not { Count: >= 2 } tasks)
            throw new OptionsException("tasks: the multi-vs-single recipe compares a mixture of several tasks; name at least two");
        if (spec.Training.MaxSteps <= 0)
            throw new OptionsException("training.max_steps: the multi-vs-single recipe gives every model the same number of steps; set it");

        var mixture = runner.LoadTask(spec with { Recipe = null });
        var multi = await runner.RunAsync(Stage(spec, "multi-task", Budget(spec.Training, mixture.Train.Count)), cancel);
        var mean = mixture.PrimaryMetric;
        var alone = tasks.Select(t => spec with { Task = t, Tasks = null, Mixing = null, Recipe = null }).ToList();
        var data = alone.Select(runner.LoadTask).ToList();
        alone = [.. alone.Select((s, i) => s with { Objective = OwnTaskOptions(s.Objective, data[i].Name) })];
        var keys = TaskKeys.For([.. data.Select(d => d.Name)]);
        var single = new Dictionary<string, double>();
        var primaries = new Dictionary<string, List<double>>();   // by prefix: "" and each alternative's "free." …
        for (int i = 0; i < alone.Count; i++)
        {
            var run = await runner.RunAsync(Stage(alone[i], $"single-{keys[i]}", Budget(spec.Training, data[i].Train.Count)), cancel);
            foreach (var (metric, value) in run.Metrics)
            {
                // The task's own "free.accuracy" is "free.sst2.accuracy" in the mixture's names.
                int dot = metric.IndexOf('.');
                var (prefix, name) = dot < 0 ? ("", metric) : (metric[..(dot + 1)], metric[(dot + 1)..]);
                single[$"{prefix}{keys[i]}.{name}"] = value;
                if (name == data[i].PrimaryMetric) (primaries.TryGetValue(prefix, out var list) ? list : primaries[prefix] = []).Add(value);
            }
        }
        foreach (var (prefix, values) in primaries.Where(p => p.Value.Count == alone.Count)) single[prefix + mean] = values.Average();
        List<string> chart = [.. data.Select((d, i) => $"{keys[i]}.{d.PrimaryMetric}"), mean];
        var stages = new List<StageResult>
        {
            new("single-task", single),
            new("multi-task", multi.Metrics, multi.Directory),
        };
        return runner.Report(spec.Output!, spec, stages, watch.Elapsed.TotalSeconds, chart);
    }

    /// <summary>The training settings with as many epochs as <c>max_steps</c> needs on <paramref name="examples"/> an epoch: every
    /// model, the mixture's and each task's, takes exactly that many steps (a small task is seen more often).</summary>
    static TrainingSpec Budget(TrainingSpec t, int examples)
    {
        long perEpoch = t.StepsPerEpoch(examples);
        return t with { Epochs = (int)Math.Max(1, (t.MaxSteps + perEpoch - 1) / perEpoch) };
    }

    static ExperimentSpec Stage(ExperimentSpec spec, string name, TrainingSpec training) => spec with
    {
        Name = $"{spec.Name}/{name}",
        Output = Path.Combine(spec.Output!, name),
        Recipe = null,
        Training = training,
    };

    /// <summary>A single-task stage's objective: per-task options (<c>objective.options.tasks</c>) cut to its own task's, since
    /// the mixture's other tasks are not tasks of that run.</summary>
    static PluginChoice OwnTaskOptions(PluginChoice objective, string dataset)
    {
        if (objective.Options is not { ValueKind: JsonValueKind.Object } options
            || !options.TryGetProperty("tasks", out var perTask) || perTask.ValueKind != JsonValueKind.Object)
            return objective;
        var trimmed = JsonNode.Parse(options.GetRawText())!.AsObject();
        var own = new JsonObject();
        if (perTask.TryGetProperty(dataset, out var mine)) own[dataset] = JsonNode.Parse(mine.GetRawText());
        trimmed["tasks"] = own;
        using var document = JsonDocument.Parse(trimmed.ToJsonString());
        return objective with { Options = document.RootElement.Clone() };
    }
}
