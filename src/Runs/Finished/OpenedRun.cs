using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;

namespace PluginGpt.Runs;

/// <summary>A finished run, reopened: its experiment, the model with the method loaded, the tokenizer, and per task (by key) its
/// objective.</summary>
public sealed record OpenedRun(string Directory, ExperimentSpec Spec, Decoder Model, IModelTokenizer Tokenizer, string MethodName,
    IAttachedMethod Method, IReadOnlyList<string> TaskKeys, IReadOnlyList<IObjectiveInstance> Objectives)
{
    /// <summary>The objective of task <paramref name="key"/> (<c>--task</c>; null: the run's only task).</summary>
    public IObjectiveInstance Objective(string? key) => Objectives[FinishedRuns.TaskIndex(TaskKeys, key, Directory)];
}
