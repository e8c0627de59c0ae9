using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>What an objective gets to build itself: the model, its tokenizer, the task and its options.</summary>
public sealed record ObjectiveContext(IDecoder Model, ITokenizer Tokenizer, TaskData Task, JsonElement Options);

/// <summary>How a labelled example becomes logits and a loss (classifier head, cloze, text-to-text, in-context).</summary>
public interface IObjective : IPlugin
{
    /// <summary>Builds the objective for one run. Called after the method is attached; bad options throw
    /// <see cref="OptionsException"/>.</summary>
    IObjectiveInstance Create(ObjectiveContext context);
}

/// <summary>
/// An objective built for one run. It owns what it creates (a task head): <see cref="IDisposable.Dispose"/> frees it.
/// Only <see cref="Trains"/>, <see cref="Loss"/> and <see cref="Predict"/> are required.
/// </summary>
public interface IObjectiveInstance : IDisposable
{
    /// <summary>The objective's own parameters (a task head), trained beside the method's. Default: none.</summary>
    IReadOnlyList<(string Name, Parameter Parameter)> Parameters => [];
    /// <summary>False for objectives that only predict (in-context learning).</summary>
    bool Trains { get; }
    /// <summary>Mean loss of a batch (a scalar tensor with gradient). The host calls it inside a dispose scope per batch.</summary>
    Tensor Loss(IReadOnlyList<Example> batch);
    /// <summary>One prediction per example (no gradient needed; the host calls it inside a dispose scope).</summary>
    IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch);

    /// <summary>How AdamW treats one of <see cref="Parameters"/>; default as for methods.</summary>
    ParameterSettings SettingsFor(string name, Parameter parameter) => ParameterSettings.Default(name, parameter);

    /// <summary>Writes the objective's own weights beside the method's (the task head is always saved with the adapter).
    /// Default: <see cref="Parameters"/> as <c>head.safetensors</c>, nothing when there are none.</summary>
    void Save(string directory)
    {
        if (Parameters.Count > 0) TensorFiles.Save(Path.Combine(directory, HeadFile), Parameters);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    void Load(string directory)
    {
        if (Parameters.Count > 0) TensorFiles.CopyInto(Path.Combine(directory, HeadFile), Parameters);
    }

    /// <summary>The default file of an objective's weights.</summary>
    const string HeadFile = "head.safetensors";

    /// <summary>Frees what the objective created (its head). Default: nothing.</summary>
    void IDisposable.Dispose() { }
}
