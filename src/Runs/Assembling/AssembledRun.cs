using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Runs.Plugins;

namespace PluginGpt.Runs;

/// <summary>Everything an experiment builds before training: plugins, model, tokenizer, data, the attached method and
/// objective (one per task behind <see cref="Instance"/> for a multi-task run).</summary>
public sealed record AssembledRun(ExperimentSpec Spec, LoadedPlugin Method, LoadedPlugin Objective, IReadOnlyList<LoadedPlugin> Tasks,
    Decoder Model, TaskData Data, ITaskPlugin Scoring, IAttachedMethod Attached, IObjectiveInstance Instance, string? Note,
    MultiTask? Multi, IReadOnlyList<IObjectiveInstance> PerTask, IModelTokenizer Tokenizer) : IDisposable
{
    /// <summary>The plugins of the methods <c>method.with</c> composes with the main one, in order (for provenance).</summary>
    public IReadOnlyList<LoadedPlugin> ComposedMethods { get; init; } = [];

    /// <summary>The task plugin's name, <c>multi-task</c> for several.</summary>
    public string TaskName => Multi is null ? Tasks[0].Manifest.Name : Scoring.Manifest.Name;

    /// <summary>The tasks' keys, in <see cref="PerTask"/>'s order (one task: its data set's name).</summary>
    public IReadOnlyList<string> TaskKeys => KeysOf(Data, Multi);

    /// <summary>A run's task keys, in the order its objectives are built: one task's data set name, or each member's key.</summary>
    public static IReadOnlyList<string> KeysOf(TaskData data, MultiTask? multi) =>
        multi is null ? [data.Name] : [.. multi.Members.Select(t => t.Key)];

    /// <summary>Owners in reverse order of creation: the objective's head, the method's modules (restoring the base), the
    /// model.</summary>
    public void Dispose()
    {
        Instance.Dispose();
        Attached.Dispose();
        Model.Dispose();
    }
}
