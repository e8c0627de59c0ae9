using System.Diagnostics;
using System.Text.Json;
using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Host.Plugins;
using TorchSharp;

namespace PluginGpt.Host.Experiments;

/// <summary>
/// Runs one experiment: resolves method × objective × task by name, loads model, tokenizer and data, and drives the
/// core's shared loop. Its run folder holds the resolved config, metrics.jsonl, metrics.json, best/ and run.log.
/// </summary>
public sealed class ExperimentRunner(PluginCatalog catalog, Func<int, Func<IProgress<TrainingProgress>, FineTuneResult>, FineTuneResult> display) : IExperimentRunner
{
    public Task<RunResult> RunAsync(ExperimentSpec spec, CancellationToken cancel)
    {
        if (spec.Recipe is { Name.Length: > 0 } recipe)
            return catalog.Get<IRecipe>(PluginKind.Recipe, recipe.Name, "recipe.name").RunAsync(spec with { Recipe = null }, this, cancel);
        return Task.FromResult(Run(spec, cancel));
    }

    /// <summary>Everything an experiment builds before training: plugins, model, tokenizer, data, the attached method and objective.</summary>
    sealed record Prepared(ExperimentSpec Spec, IAdaptationMethod Method, IObjective Objective, ITaskPlugin Task, Decoder Model,
        TaskData Data, IAttachedMethod Attached, IObjectiveInstance Instance, string? Note) : IDisposable
    {
        /// <summary>Owners in reverse order of creation: the objective's head, the method's modules (restoring the base), the model.</summary>
        public void Dispose()
        {
            Instance.Dispose();
            Attached.Dispose();
            Model.Dispose();
        }
    }

    Prepared Prepare(ExperimentSpec spec)
    {
        var method = catalog.Get<IAdaptationMethod>(PluginKind.Method, spec.Method.Name, "method.name");
        var objective = catalog.Get<IObjective>(PluginKind.Objective, spec.Objective.Name, "objective.name");
        var task = catalog.Get<ITaskPlugin>(PluginKind.Task, spec.Task.Name, "task.name");
        var device = DeviceSelector.Parse(spec.Device);
        var tokenizer = GptTokenizer.Load(ShippedData.RepoPath(spec.Model.Tokenizer ?? spec.Model.Path ?? ShippedData.Path("tokenizers", "gpt2")));
        var data = task.Load(new DataOptions
        {
            Dataset = spec.Task.Dataset, Train = spec.Task.Train, Dev = spec.Task.Dev, Format = spec.Task.Format, HasHeader = spec.Task.HasHeader,
            Columns = spec.Task.Columns, Labels = spec.Task.Labels, MaxTrain = spec.Task.MaxTrain, MaxDev = spec.Task.MaxDev,
            DataRoot = ShippedData.Path(), Seed = spec.Seed,
        });

        torch.manual_seed(spec.Seed);
        var model = spec.Model.Path is { } path ? GptCheckpoint.Load(ShippedData.RepoPath(path)) : new Decoder(Presets.Get(spec.Model.Preset!) with { Vocab = tokenizer.VocabSize });
        IAttachedMethod? attached = null;
        try
        {
            string? note = null;
            if (tokenizer.VocabSize > model.Config.Vocab)
            {
                // HF's GPT-2 has 50,257 tokens; GPT-1's input transforms add start, delimiter and extract (and pad): new embedding rows.
                note = $"vocabulary grown from {model.Config.Vocab} to {tokenizer.VocabSize} tokens for the tokenizer's special tokens (new rows N(0, 0.02))";
                model.ResizeTokenEmbeddings(tokenizer.VocabSize);
            }
            model.to(device);
            attached = MethodInstaller.Attach(method, model, spec.Method.Options ?? default);
            var instance = objective.Create(new ObjectiveContext(model, tokenizer, data, spec.Objective.Options ?? default));
            return new Prepared(spec, method, objective, task, model, data, attached, instance, note);
        }
        catch
        {
            attached?.Dispose();
            model.Dispose();
            throw;
        }
    }

    RunResult Run(ExperimentSpec spec, CancellationToken cancel)
    {
        using var span = Telemetry.Source.StartActivity("run");
        span?.SetTag("experiment", spec.Name);
        // The folder is chosen (and checked) once, before the slow work; a default name's timestamp cannot drift.
        var dir = OutputFolder.EnsureFree(spec.Output ?? Path.Combine("runs", $"{spec.Name}-{DateTime.Now:yyyyMMdd-HHmmss}"), "output");
        var watch = Stopwatch.StartNew();
        // Owners free what they made (the objective, the method, the model); this scope is a safety net for temporaries a
        // plugin leaves outside one (set-up, calibration, saves): they are freed when the run ends, not by the GC.
        using var temporaries = torch.NewDisposeScope();
        using var p = Prepare(spec);

        // Only now, with every input checked, does the run get its folder: bad input leaves no half-made run behind.
        Directory.CreateDirectory(OutputFolder.EnsureFree(dir, "output"));   // checked again: another run may have taken it meanwhile
        using var log = new StreamWriter(Path.Combine(dir, "run.log")) { AutoFlush = true };
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), ExperimentFile.Serialize(spec));
        log.WriteLine($"{DateTime.UtcNow:O} run {spec.Name}: method {p.Method.Manifest.Name}, objective {p.Objective.Manifest.Name}, task {p.Task.Manifest.Name}");
        if (p.Note is not null) log.WriteLine(p.Note);
        log.WriteLine($"data {p.Data.Name}: {p.Data.Train.Count} train, {p.Data.Dev.Count} dev, labels [{string.Join(", ", p.Data.Labels)}]");

        var job = new FineTuneJob(p.Model, p.Attached, p.Instance, p.Task, p.Data, spec.Training, spec.Seed, dir);
        var result = display(FineTuner.TotalSteps(p.Data.Train.Count, spec.Training), progress => FineTuner.Run(job, new Logged(progress, log), cancel));

        long total = ParameterSet.Count(p.Model.parameters().Concat(p.Instance.Parameters.Select(x => x.Parameter)));
        var summary = new
        {
            name = spec.Name, method = p.Method.Manifest.Name, objective = p.Objective.Manifest.Name, task = p.Task.Manifest.Name, dataset = p.Data.Name,
            best_epoch = result.BestEpoch, metrics = result.Metrics, primary_metric = p.Data.PrimaryMetric,
            trainable_parameters = result.TrainableParameters, total_parameters = total, steps = result.Steps, seconds = watch.Elapsed.TotalSeconds,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "metrics.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        if (result.Steps > 0) Reports.LossReport.Write(dir);
        log.WriteLine($"{DateTime.UtcNow:O} done: {FineTuner.Describe(result.Metrics)}");
        return new RunResult(dir, result.Metrics, result.TrainableParameters, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Rebuilds a finished run from its config.json, loads its best/ weights, and scores the dev set again.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(string runDirectory)
    {
        var spec = ExperimentFile.Load(Path.Combine(runDirectory, "config.json"), []);
        using var temporaries = torch.NewDisposeScope();
        using var p = Prepare(spec);
        var best = Path.Combine(runDirectory, FineTuner.BestDir);
        p.Attached.Load(best);
        p.Instance.Load(best);
        return FineTuner.Evaluate(new FineTuneJob(p.Model, p.Attached, p.Instance, p.Task, p.Data, spec.Training, spec.Seed, runDirectory), 0);
    }

    /// <summary>Forwards progress to the display and writes epoch summaries to run.log.</summary>
    sealed class Logged(IProgress<TrainingProgress> inner, StreamWriter log) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress p)
        {
            inner.Report(p);
            if (p.Message is not null) log.WriteLine($"{DateTime.UtcNow:O} {p.Message}");
        }
    }
}
