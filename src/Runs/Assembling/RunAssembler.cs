using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Runs.Plugins;
using TorchSharp;

namespace PluginGpt.Runs;

/// <summary>
/// Assembles a run from its experiment: finds method × objective × task(s) (and callbacks) by name, loads the tokenizer, the
/// tasks' data and the base model, attaches the method and builds the objective. Task data is loaded once per assembler (a
/// recipe's stages, its report, and a reopened run's predictions all read the same copy).
/// </summary>
public sealed class RunAssembler(PluginCatalog catalog)
{
    readonly Dictionary<string, TaskData> loaded = [];
    readonly Dictionary<string, TaskData> trained = [];

    public PluginCatalog Catalog => catalog;

    /// <summary>How many times a task's data was read from its files (tests: once per task per assembler).</summary>
    public int TaskLoads { get; private set; }

    /// <summary>The experiment's task plugins and their data: <c>task</c>, or each of <c>tasks</c> (a multi-task run).</summary>
    public IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> LoadTasks(ExperimentSpec spec, TaskData? given)
    {
        var recorded = spec.Provenance;
        if (spec.Tasks is not { } tasks)
        {
            var plugin = catalog.Find(PluginKind.Task, spec.Task.Name, "task.name", recorded?.GetValueOrDefault("task"));
            if (given is not null) return [(plugin, given)];
            var data = Load(plugin, spec.Task, spec.Seed);
            // Refused before any training, not after the first epoch.
            if (data.Dev.Count == 0)
                throw new DataException($"task: {data.Name} has no dev examples to score (give task.dev, or more training rows to " +
                    "hold some out)");
            return [(plugin, data)];
        }
        if (given is not null) throw new OptionsException("tasks: a multi-task experiment loads its own tasks; run it without given data");
        return tasks.Select((task, i) =>
        {
            var plugin = catalog.Find(PluginKind.Task, task.Name, $"tasks[{i}].name", recorded?.GetValueOrDefault(TaskRole(i)));
            TaskData data;
            try { data = Load(plugin, task, spec.Seed); }
            catch (OptionsException e) { throw new OptionsException($"tasks[{i}]: {e.Message}"); }
            // Every task is mixed into training and scored into the mean: one without either would silently drop out.
            if (data.Train.Count == 0) throw new DataException($"tasks[{i}]: {data.Name} has no training examples");
            if (data.Dev.Count == 0) throw new DataException($"tasks[{i}]: {data.Name} has no dev examples to score");
            return (plugin, data);
        }).ToList();
    }

    /// <summary>A task's data, read once for each plugin, options and seed (the seed draws splits and subsets).</summary>
    TaskData Load(LoadedPlugin plugin, TaskSpec task, int seed)
    {
        var options = task.OptionsElement();
        var key = $"{plugin.Provenance.Assembly}\n{task.Name}\n{options.GetRawText()}\n{seed}";
        if (loaded.TryGetValue(key, out var data)) return data;
        data = ((ITaskPlugin)plugin.Instance).Load(new TaskContext(options, ShippedData.Path(), seed));
        TaskLoads++;
        return loaded[key] = data;
    }

    /// <summary>Remembers the task data a single-task run in <paramref name="directory"/> trained with (a recipe's stage gets
    /// its data from the recipe), so reopening that run in this assembler's lifetime uses it instead of reading files.</summary>
    public void RanWith(string directory, TaskData data) => trained[Path.GetFullPath(directory)] = data;

    /// <summary>The task data a run in <paramref name="directory"/> trained with in this assembler's lifetime, or null.</summary>
    public TaskData? TrainedWith(string directory) => trained.GetValueOrDefault(Path.GetFullPath(directory));

    public static string TaskRole(int i) => $"tasks[{i}]";

    /// <summary>One task as it is, or several as a <see cref="MultiTask"/> (its mixture, its composite scoring).</summary>
    public static (TaskData Data, ITaskPlugin Scoring, MultiTask? Multi) Compose(ExperimentSpec spec,
        IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> tasks)
    {
        if (spec.Tasks is null) return (tasks[0].Data, (ITaskPlugin)tasks[0].Plugin.Instance, null);
        var keys = TaskKeys.For([.. tasks.Select(t => t.Data.Name)]);
        var multi = new MultiTask([.. tasks.Select((t, i) => new TaskMember(keys[i], (ITaskPlugin)t.Plugin.Instance, t.Data))],
            spec.Mixing ?? new MixingSpec(), spec.Seed);
        return (multi.Data, multi.Scoring, multi);
    }

    public static IModelTokenizer LoadTokenizer(ExperimentSpec spec)
    {
        var folder = spec.Model.Tokenizer is { } own ? ShippedData.RepoPath(own)
            : spec.Model.Path is { } model ? ShippedData.ModelPath(model) : ShippedData.RepoPath(ShippedData.Path("tokenizers", "gpt2"));
        var tokenizer = ModelTokenizer.Load(folder);
        if (spec.Model.Path is { } modelPath) tokenizer.CheckFits(GptCheckpoint.ReadConfig(ShippedData.ModelPath(modelPath)), folder);
        return tokenizer;
    }

    /// <summary>What the objective is built from, once per task of the run (one for a single-task run).</summary>
    public static IEnumerable<ObjectiveContext> ObjectiveContexts(ExperimentSpec spec, IDecoder model, ITokenizer tokenizer,
        TaskData data, MultiTask? multi, IReadOnlyList<(LoadedPlugin Plugin, TaskData Data)> tasks)
    {
        string[] runTasks = [.. tasks.Select(t => t.Data.Name)];
        var encodedOnce = new MemoizedTokenizer(tokenizer);   // examples are encoded once per run, not every step
        foreach (var (_, own) in tasks)
            yield return new ObjectiveContext(model, encodedOnce, multi is null ? data : own, spec.Objective.Options ?? default)
            {
                RunTasks = runTasks,
            };
    }

    /// <summary>The experiment's method and the ones <c>method.with</c> composes with it, found by name (each with its
    /// plugin, for provenance).</summary>
    public List<(MethodChoice Choice, LoadedPlugin Plugin)> Methods(ExperimentSpec spec)
    {
        if (spec.Objective.With is not null) throw new OptionsException("objective.with: only a method composes with others");
        if (spec.Recipe?.With is not null) throw new OptionsException("recipe.with: only a method composes with others");
        var recorded = spec.Provenance;
        var method = catalog.Find(PluginKind.Method, spec.Method.Name, "method.name", recorded?.GetValueOrDefault("method"));
        var methods = new List<(MethodChoice, LoadedPlugin)>
        {
            (new((IAdaptationMethod)method.Instance, spec.Method.Options ?? default, "method"), method),
        };
        for (int i = 0; i < (spec.Method.With?.Count ?? 0); i++)
        {
            var other = spec.Method.With![i];
            string field = $"method.with[{i}]";
            if (other.With is not null) throw new OptionsException($"{field}.with: list every composed method in method.with");
            var plugin = catalog.Find(PluginKind.Method, other.Name, field + ".name", recorded?.GetValueOrDefault(field));
            methods.Add((new((IAdaptationMethod)plugin.Instance, other.Options ?? default, field), plugin));
        }
        return methods;
    }

    /// <summary>The experiment's base model on its device (seeded first: a preset's weights are drawn), its vocabulary fitted to
    /// the tokenizer, and a note saying how when it was.</summary>
    public static (Decoder Model, string? Note) BaseModel(ExperimentSpec spec, IModelTokenizer tokenizer, torch.Device device)
    {
        torch.manual_seed(spec.Seed);
        var model = spec.Model.Path is { } path ? GptCheckpoint.Load(ShippedData.ModelPath(path))
            : new Decoder(Presets.Get(spec.Model.Preset!) with { Vocab = tokenizer.VocabSize });
        try
        {
            string? note = null;
            if (tokenizer.VocabSize > model.Config.Vocab)
            {
                // HF's GPT-2 has 50,257 tokens; GPT-1's input transforms add start, delimiter and extract (and pad): new rows.
                note = $"vocabulary grown from {model.Config.Vocab} to {tokenizer.VocabSize} tokens " +
                    "for the tokenizer's special tokens (new rows N(0, 0.02))";
                model.ResizeTokenEmbeddings(tokenizer.VocabSize);
            }
            else if (tokenizer.VocabSize < model.Config.Vocab)
                // Said, not silent: the extra rows are never an input, and generation never produces them.
                note = $"the tokenizer has {tokenizer.VocabSize} ids, the model's vocabulary {model.Config.Vocab}: ids " +
                    $"{tokenizer.VocabSize}–{model.Config.Vocab - 1} are never read nor generated";
            model.to(device);
            return (model, note);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The whole run before training: plugins, tokenizer, tasks, base model, the method attached, the objective built
    /// (once per task of a multi-task run, behind one composite). What is made is disposed again when a later part fails.</summary>
    public AssembledRun Assemble(ExperimentSpec spec, TaskData? given = null)
    {
        var methods = Methods(spec);
        var objective = catalog.Find(PluginKind.Objective, spec.Objective.Name, "objective.name",
            spec.Provenance?.GetValueOrDefault("objective"));
        var device = DeviceSelector.Parse(spec.Device);
        var tokenizer = LoadTokenizer(spec);
        var tasks = LoadTasks(spec, given);
        var (data, scoring, multi) = Compose(spec, tasks);

        var (model, note) = BaseModel(spec, tokenizer, device);
        IAttachedMethod? attached = null;
        var perTask = new List<IObjectiveInstance>();
        try
        {
            attached = MethodInstaller.Attach([.. methods.Select(m => m.Choice)], model);
            foreach (var context in ObjectiveContexts(spec, model, tokenizer, data, multi, tasks))
                perTask.Add(((IObjective)objective.Instance).Create(context));
            var instance = multi?.Objective(perTask) ?? perTask[0];
            return new AssembledRun(spec, methods[0].Plugin, objective, [.. tasks.Select(t => t.Plugin)], model, data, scoring, attached,
                instance, note, multi, perTask, tokenizer)
            {
                ComposedMethods = [.. methods.Skip(1).Select(m => m.Plugin)],
            };
        }
        catch
        {
            foreach (var made in perTask) made.Dispose();
            attached?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>The experiment's callback plugins, each with its listener for this run.</summary>
    public IReadOnlyList<(LoadedPlugin Plugin, ITrainingListener Listener)> Callbacks(ExperimentSpec spec) =>
        [.. (spec.Callbacks ?? []).Select((choice, i) =>
        {
            if (choice.With is not null) throw new OptionsException($"callbacks[{i}].with: only a method composes with others");
            var found = catalog.Find(PluginKind.Callback, choice.Name, $"callbacks[{i}].name");
            return (found, ((ITrainingCallback)found.Instance).CreateListener(choice.Options ?? default));
        })];

    /// <summary>
    /// What can be checked of an experiment in a second, before any long work (a sweep's first run, the quickstart's
    /// pre-training): its plugins exist, the task reads its data with its options, the method attaches with its options to a
    /// shape-only model (the experiment's own shape, or <paramref name="shape"/> for a model still to be made), and the
    /// objective is built on it with its options.
    /// </summary>
    public void Check(ExperimentSpec spec, GptConfig? shape)
    {
        var methods = Methods(spec);
        var objective = (IObjective)catalog.Find(PluginKind.Objective, spec.Objective.Name, "objective.name").Instance;
        var tasks = LoadTasks(spec, null);
        var (data, _, multi) = Compose(spec, tasks);
        // A model still to be made (the quickstart's, given by its shape) has no tokenizer yet: its objective is checked at run time.
        var tokenizer = shape is null ? LoadTokenizer(spec) : null;
        var config = shape
            ?? (spec.Model.Path is { } path ? GptCheckpoint.ReadConfig(ShippedData.ModelPath(path)) : Presets.Get(spec.Model.Preset!));
        // The vocabulary the run will have (as Assemble makes it): a preset's is the tokenizer's, a model folder's grows to fit it.
        int vocab = tokenizer is null ? config.Vocab
            : spec.Model.Path is null && shape is null ? tokenizer.VocabSize : Math.Max(config.Vocab, tokenizer.VocabSize);
        using var model = new Decoder(config with { Vocab = vocab }, torch.META);
        using var attached = MethodInstaller.Attach([.. methods.Select(m => m.Choice)], model);
        // A recipe shapes the objective's options per stage (PET's patterns, …): its stages are checked when they start.
        if (tokenizer is null || spec.Recipe is { Name.Length: > 0 }) return;
        using var scope = torch.NewDisposeScope();
        foreach (var context in ObjectiveContexts(spec, model, tokenizer, data, multi, tasks))
        {
            // The objective is built on the weightless model so its options are checked now; one that computes while it is built
            // (it needs real weights for that) has its remaining checks when its run starts.
            try { objective.Create(context).Dispose(); }
            catch (Exception e) when (e is not UserInputException) { }
        }
    }
}
