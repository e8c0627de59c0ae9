using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Runs;

/// <summary>Named adapters: several finished runs on one base model (PEFT's load_adapter / set_adapter).</summary>
public sealed partial class FinishedRuns
{
    /// <summary>Finished single-task runs that adapt the same base model, loaded onto one copy of it by name (see
    /// <see cref="AdapterSet"/>), with <paramref name="active"/> (default: the first) attached; the set lives while
    /// <paramref name="use"/> runs, in the precision the first run recorded.</summary>
    public T OpenAdapters<T>(IReadOnlyList<NamedRun> runs, string? active, Func<AdapterSet, T> use)
    {
        if (runs.Count == 0) throw new OptionsException("--adapter: name at least one run (NAME=RUN_DIR)");
        if (runs.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new OptionsException($"--adapter: the name '{twice.Key}' is given twice");
        if (active is not null && runs.All(r => r.Name != active))
            throw new OptionsException(
                $"--active: '{active}' is not one of the --adapter names ({string.Join(", ", runs.Select(r => r.Name))})");
        var finished = runs.Select(r => FinishedModel(r.Directory)).ToList();
        var first = finished[0].Spec;
        var tokenizer = RunAssembler.LoadTokenizer(first);
        // A preset's weights, and the rows a grown vocabulary adds to a model folder, are drawn from the run's seed.
        bool drawn = first.Model.Path is not { } basePath
            || tokenizer.VocabSize > GptCheckpoint.ReadConfig(ShippedData.ModelPath(basePath)).Vocab;
        for (int i = 0; i < runs.Count; i++) CheckAdapter(runs[i], finished[i].Spec, runs[0], first, drawn);

        using var region = Autocast.Use(PrecisionSelector.Resolve(first.Precision, DeviceSelector.Parse(first.Device)).ComputeType);
        using var temporaries = torch.NewDisposeScope();
        var set = new AdapterSet(RunAssembler.BaseModel(first, tokenizer, DeviceSelector.Parse(first.Device)).Model, tokenizer);
        try
        {
            for (int i = 0; i < runs.Count; i++)
            {
                try { AddAdapter(set, runs[i], finished[i].Directory, finished[i].Spec, tokenizer); }
                catch (UserInputException e) when (!e.Message.StartsWith("--adapter", StringComparison.Ordinal))
                {
                    // Which of the runs a plugin, data or weights error belongs to.
                    throw new UserInputException($"--adapter {runs[i].Name} ({finished[i].Directory}): {e.Message}", e);
                }
            }
            set.Activate(active ?? runs[0].Name);
            return use(set);
        }
        finally { set.Dispose(); }
    }

    /// <summary>One named run into the set: its methods (refused when they change the body), its task data, and its objective
    /// built on the model with its method on, head loaded.</summary>
    void AddAdapter(AdapterSet set, NamedRun run, string directory, ExperimentSpec spec, Core.Tokenization.IModelTokenizer tokenizer)
    {
        List<MethodChoice> methods = [.. assembler.Methods(spec).Select(m => m.Choice)];
        foreach (var choice in methods)
            if (choice.Method.Uses(choice.Options) is not { } points || points.HasFlag(HookPoints.BodyWeights))
                throw new OptionsException($"--adapter {run.Name}: {directory} trains with '{choice.Method.Manifest.Name}', " +
                    "which changes (or may change) the base model's own weights; named adapters share one base, so they take " +
                    "methods that add their own weights (LoRA, (IA)³, adapters, prompts, …); open this run alone with --run");
        var objective = assembler.Catalog.Find(PluginKind.Objective, spec.Objective.Name, "objective.name",
            spec.Provenance?.GetValueOrDefault("objective"));
        var tasks = assembler.LoadTasks(spec, Reopened(directory));
        var (data, scoring, _) = RunAssembler.Compose(spec, tasks);
        // The objective is built as in its run, on the model with the run's method (virtual tokens shorten its room,
        // in-context calibration reads the adapted model); every adapter's files are checked now, not at first use.
        set.Install(run.Name, methods, directory);
        var context = RunAssembler.ObjectiveContexts(spec, set.Model, tokenizer, data, null, tasks).Single();
        var instance = ((IObjective)objective.Instance).Create(context);
        set.Add(new AdapterSet.Entry(run.Name, directory, spec, methods, data, scoring, instance));
        var best = Path.Combine(directory, FineTuner.BestDir);
        instance.Load(best);
        CheckFinite(best, HeadTensors([instance]));   // the model's tensors were checked when the method was installed
    }

    /// <summary>A named run must be a single-task run on the first one's base model, tokenizer, device and precision — and seed,
    /// where the base is partly drawn from it (<paramref name="drawn"/>).</summary>
    static void CheckAdapter(NamedRun run, ExperimentSpec spec, NamedRun firstRun, ExperimentSpec first, bool drawn)
    {
        if (spec.Tasks is not null)
            throw new OptionsException($"--adapter {run.Name}: {run.Directory} is a multi-task run; open it alone (with --task)");
        string Base(ExperimentSpec s) => (s.Model.Path is { } path ? $"model {path}" : $"preset {s.Model.Preset}") +
            (s.Model.Tokenizer is { } tokenizer ? $" with tokenizer {tokenizer}" : "") + (drawn ? $" (seed {s.Seed})" : "");
        bool same = spec.Model.Path == first.Model.Path && spec.Model.Preset == first.Model.Preset &&
            spec.Model.Tokenizer == first.Model.Tokenizer && (!drawn || spec.Seed == first.Seed);
        if (!same)
            throw new OptionsException($"--adapter {run.Name}: {run.Directory} adapts {Base(spec)}, {firstRun.Name} adapts " +
                $"{Base(first)}; named adapters share one base model");
        if (spec.Device != first.Device || spec.Precision != first.Precision)
            throw new OptionsException($"--adapter {run.Name}: {run.Directory} ran on {spec.Device} in {spec.Precision}, " +
                $"{firstRun.Name} on {first.Device} in {first.Precision}; named adapters share one model, so they run alike");
    }
}
