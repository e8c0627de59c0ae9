using Microsoft.Extensions.Logging;
using PluginGpt.Core.Training;
using PluginGpt.Runs.Plugins;
using PluginGpt.Runs.Results;

namespace PluginGpt.Runs;

/// <summary>
/// Writes a run's folder, for a trained run and for a recipe alike: config.json with the plugins' provenance, run.log's
/// header, the summary (metrics.json, built once), the results database's row and the charts.
/// </summary>
public sealed class RunFolderWriter(string? resultsPath, ILogger logger)
{
    /// <summary>Checked before the slow work: a newer or broken database is refused now, not after training.</summary>
    public void CheckResults()
    {
        if (resultsPath is not null) ResultsStore.Open(resultsPath).Dispose();
    }

    /// <summary>Opens run.log and writes what the run is: the resolved config (with provenance), the task record, and the log's
    /// header naming every plugin and the data.</summary>
    public RunLog Begin(string dir, ExperimentSpec spec, AssembledRun run,
        IReadOnlyList<(LoadedPlugin Plugin, ITrainingListener Listener)> callbacks)
    {
        var log = new RunLog(Path.Combine(dir, "run.log"), logger);
        var provenance = new Dictionary<string, PluginProvenance>
        {
            ["method"] = run.Method.Provenance,
            ["objective"] = run.Objective.Provenance,
        };
        for (int i = 0; i < run.ComposedMethods.Count; i++) provenance[$"method.with[{i}]"] = run.ComposedMethods[i].Provenance;
        for (int i = 0; i < run.Tasks.Count; i++)
            provenance[run.Multi is null ? "task" : RunAssembler.TaskRole(i)] = run.Tasks[i].Provenance;
        for (int i = 0; i < callbacks.Count; i++) provenance[$"callbacks[{i}]"] = callbacks[i].Plugin.Provenance;
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), ExperimentFile.Serialize(spec with { Provenance = provenance }));
        if (run.Multi is null) RunTaskRecord.Write(dir, run.Data);
        log.LogInformation("run {Name}: method {Method}, objective {Objective}, task {Task}", spec.Name, spec.Method.Label,
            run.Objective.Manifest.Name, run.TaskName);
        foreach (var (role, plugin) in provenance)
            log.LogInformation("{Role} plugin {Name} {Version} from {Assembly} {AssemblyVersion} in {Folder}", role, plugin.Name,
                plugin.Version, plugin.Assembly, plugin.AssemblyVersion, plugin.Folder);
        if (run.Note is not null) log.LogInformation("{Note}", run.Note);
        log.LogInformation("data {Data}: {Train} train, {Dev} dev, labels [{Labels}]", run.Data.Name, run.Data.Train.Count,
            run.Data.Dev.Count, string.Join(", ", run.Data.Labels));
        if (run.Multi is { } multi)
            for (int m = 0; m < multi.Members.Count; m++)
                log.LogInformation("task {Key}: {Train} train, {Dev} dev, mixing rate {Rate:F4}", multi.Members[m].Key,
                    multi.Members[m].Data.Train.Count, multi.Members[m].Data.Dev.Count, multi.Mixture.Rates[m]);
        return log;
    }

    /// <summary>A trained run's end: metrics.json, the checkpoint dropped (best/ remains), the results row, the loss chart and a
    /// multi-task run's per-task report.</summary>
    public void Finish(string dir, ExperimentSpec spec, AssembledRun run, FineTuneResult result, double seconds, DateTime started,
        ILogger log)
    {
        var summary = new RunSummary
        {
            Name = spec.Name,
            Method = spec.Method.Label,
            Objective = run.Objective.Manifest.Name,
            Task = run.TaskName,
            Dataset = run.Data.Name,
            BestEpoch = result.BestEpoch,
            BestStep = result.BestStep,
            StoppedEarly = result.StoppedEarly,
            StopReason = result.StoppedEarly ? result.StopReason : null,
            TrainingMemoryMb = result.TrainingMemoryBytes / (1024.0 * 1024),
            Metrics = result.Metrics,
            PrimaryMetric = run.Data.PrimaryMetric,
            TrainableParameters = result.TrainableParameters,
            // The method's modules live in the model's tree, so one count covers the body, the method and the objective's head.
            TotalParameters = ParameterSet.Count(run.Model.parameters().Concat(run.Instance.Parameters.Select(x => x.Parameter))),
            Steps = result.Steps,
            Seconds = seconds,
            Precision = spec.Precision,
        };
        RunFiles.WriteSummary(dir, summary);
        FineTuneCheckpoint.Delete(dir);   // finished: best/ is what remains to be used
        Record(dir, summary, started, result.Steps > 0 ? result.ExamplesPerSecond : null, result.MatmulGFlops, log);
        if (result.Steps > 0) Reports.LossReport.Write(dir);
        if (run.Multi is not null) Reports.TaskReport.Write(dir, spec.Name, run.Multi, result.Metrics);
        log.LogInformation("done: {Metrics}", FineTuner.Describe(result.Metrics));
    }

    /// <summary>A recipe's folder: the experiment as written (with the recipe's provenance: it runs again as it is), a summary of
    /// its stages (the last one's metrics are the recipe's), the results row and the stage chart.</summary>
    public RunResult FinishRecipe(string directory, ExperimentSpec spec, TaskData data, PluginProvenance? recipe,
        IReadOnlyList<StageResult> stages, double seconds, IReadOnlyList<string> chartMetrics)
    {
        if (stages.Count == 0) throw new InvalidOperationException("a recipe reports at least one stage");
        var last = stages[^1];
        var summary = new RunSummary
        {
            Name = spec.Name,
            Method = spec.Method.Label,
            Objective = spec.Objective.Name,
            Task = spec.Tasks is null ? spec.Task.Name : "multi-task",
            Dataset = data.Name,
            Metrics = last.Metrics,
            PrimaryMetric = data.PrimaryMetric,
            Seconds = seconds,
            Precision = spec.Precision,
            Stages = stages,
        };
        var provenance = recipe is null ? null : new Dictionary<string, PluginProvenance> { ["recipe"] = recipe };
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ExperimentFile.Serialize(spec with { Provenance = provenance }));
        RunFiles.WriteSummary(directory, summary);
        Record(directory, summary, DateTime.UtcNow - TimeSpan.FromSeconds(seconds), null, null, logger);
        Reports.StageReport.Write(directory, spec.Name, stages, chartMetrics.Count > 0 ? chartMetrics : [data.PrimaryMetric]);
        return new RunResult(directory, last.Metrics, 0, seconds);
    }

    /// <summary>Adds a finished run to the results database. The run's own files are its record: a database that fails now (full
    /// disk, another program's lock) costs the row, with a warning, never the run.</summary>
    void Record(string dir, RunSummary summary, DateTime started, double? examplesPerSecond, double? peak, ILogger log)
    {
        if (resultsPath is null) return;
        try
        {
            using var results = ResultsStore.Open(resultsPath);
            results.Record(RunRecord.Of(dir, summary, started, examplesPerSecond, peak));
        }
        catch (Exception e)   // best effort, whatever went wrong: the run's own folder is complete
        {
            log.LogWarning("run {Name} finished but was not recorded in {Database}: {Message}", summary.Name, resultsPath, e.Message);
        }
    }
}
