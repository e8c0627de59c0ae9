using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs;

/// <summary>
/// Several finished runs on one base model, by name — PEFT's named adapters (<c>load_adapter</c>, <c>set_adapter</c>): the base
/// is loaded once, every run's objective (its head, its prompts) is built once and kept, and <see cref="Activate"/> puts one
/// run's method on the model: the active method is detached (the contract's <c>Dispose</c> leaves the base as it was) and the
/// named one attached and loaded from its run's <c>best/</c>. Any method that leaves the body's weights alone can be named,
/// so one set may hold a LoRA run beside an (IA)³ or a prefix-tuning run; each answers exactly as its run opened alone.
/// </summary>
public sealed class AdapterSet : IDisposable
{
    /// <summary>One named run: its experiment, the folder its weights are read from, its methods and its objective.</summary>
    public sealed record Entry(string Name, string Directory, ExperimentSpec Spec, IReadOnlyList<MethodChoice> Methods, TaskData Data,
        ITaskPlugin Scoring, IObjectiveInstance Objective);

    readonly Dictionary<string, Entry> entries = [];
    IAttachedMethod? attached;

    internal AdapterSet(Decoder model, IModelTokenizer tokenizer)
    {
        Model = model;
        Tokenizer = tokenizer;
    }

    /// <summary>The shared base model, with the active run's method attached.</summary>
    public Decoder Model { get; }
    public IModelTokenizer Tokenizer { get; }
    /// <summary>The names, in the order they were given.</summary>
    public IReadOnlyList<string> Names => [.. entries.Keys];
    /// <summary>The run whose method is on the model now (null before the first <see cref="Activate"/>).</summary>
    public string? Active { get; private set; }
    /// <summary>How many times a method was attached: a switch to the active name attaches nothing.</summary>
    public int Attachments { get; private set; }

    /// <summary>The named run (its task data, its objective); an unknown name is one line listing the known ones.</summary>
    public Entry this[string name] => entries.TryGetValue(name, out var entry) ? entry
        : throw new OptionsException($"adapter '{name}' is not loaded (loaded: {string.Join(", ", entries.Keys)})");

    internal void Add(Entry entry) => entries.Add(entry.Name, entry);

    /// <summary>Puts <paramref name="name"/>'s method on the model (nothing to do when it is already there) and returns its entry.
    /// </summary>
    public Entry Activate(string name)
    {
        var entry = this[name];
        if (Active == name) return entry;
        Install(name, entry.Methods, entry.Directory);
        return entry;
    }

    /// <summary>Detaches the active method (the base model again) and attaches <paramref name="methods"/> with <paramref name="run"/>'s
    /// best/ weights, checked finite. On failure the model is left bare (no half-loaded method stays on it) and nothing is active.
    /// </summary>
    internal void Install(string name, IReadOnlyList<MethodChoice> methods, string run)
    {
        attached?.Dispose();
        attached = null;
        Active = null;
        try
        {
            attached = MethodInstaller.Attach(methods, Model);
            var best = Path.Combine(run, FineTuner.BestDir);
            attached.Load(best);
            FinishedRuns.CheckFinite(best, FinishedRuns.ModelTensors(Model));
        }
        catch
        {
            attached?.Dispose();
            attached = null;
            throw;
        }
        Active = name;
        Attachments++;
    }

    /// <summary>The active run as a run opened alone (<c>generate --run</c>, <c>export</c>) sees it.</summary>
    public OpenedRun Opened()
    {
        var entry = this[Active ?? throw new InvalidOperationException("no adapter is active")];
        return new OpenedRun(entry.Directory, entry.Spec, Model, Tokenizer, entry.Methods[0].Method.Manifest.Name, attached!,
            [entry.Data.Name], [entry.Objective]);
    }

    /// <summary>Predictions of the named adapter (activated first) in its run's batch size: exactly what its run, opened alone,
    /// predicts.</summary>
    public IReadOnlyList<Prediction> Predict(string name, IReadOnlyList<Example> examples, CancellationToken cancel = default)
    {
        var entry = Activate(name);
        return FineTuner.Predict(Model, entry.Objective, examples, Math.Max(1, entry.Spec.Training.BatchSize), cancel);
    }

    /// <summary>The named adapter's dev-set metrics (activated first), as <c>evaluate</c> scores its run alone.</summary>
    public IReadOnlyDictionary<string, double> Evaluate(string name, CancellationToken cancel = default)
    {
        var entry = Activate(name);
        var job = new FineTuneJob(Model, attached!, entry.Objective, entry.Scoring, entry.Data, entry.Spec.Training, entry.Spec.Seed,
            entry.Directory);
        return FineTuner.Evaluate(job, 0, cancel: cancel);
    }

    /// <summary>The objectives, the active method (restoring the base), then the model.</summary>
    public void Dispose()
    {
        foreach (var entry in entries.Values) entry.Objective.Dispose();
        attached?.Dispose();
        Model.Dispose();
    }
}
