using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>What an objective gets to build itself: the model, its tokenizer, the task and its options.</summary>
/// <param name="Model">the decoder, with the method already attached.</param>
/// <param name="Tokenizer">the model's tokenizer.</param>
/// <param name="Task">the task this objective serves (one of several in a multi-task run).</param>
/// <param name="Options">the experiment's <c>objective.options</c>; bind with <see cref="PluginOptions.Bind{T}"/>.</param>
public sealed record ObjectiveContext(IDecoder Model, ITokenizer Tokenizer, TaskData Task, JsonElement Options)
{
    /// <summary>The names of every task of the run (since SDK 2.2): a multi-task run builds its objective once per task, and options
    /// keyed by task name can be checked against all of them. Default: <see cref="Task"/>'s name alone.</summary>
    public IReadOnlyList<string> RunTasks
    {
        get => runTasks ?? (Task is null ? [] : [Task.Name]);
        init => runTasks = value;
    }

    readonly IReadOnlyList<string>? runTasks;

    /// <summary>The tokens an example may take: an objective's <c>max_length</c> option within what the model can read (0: all the
    /// model can read, <see cref="IDecoder.UsableContext"/>). Since SDK 2.7.</summary>
    public int Room(int maxLength) => maxLength == 0 ? Model.UsableContext : Math.Min(maxLength, Model.UsableContext);
}

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

    /// <summary>The named terms of the last <see cref="Loss"/> as they add up to it (GPT-1's L3: <c>task</c> and <c>lm</c>, the latter
    /// already weighted by λ), for the loss chart; null when the loss has one term. Read once after each <see cref="Loss"/>.
    /// Since SDK 2.1.</summary>
    IReadOnlyDictionary<string, double>? LossParts => null;

    /// <summary>Whether <see cref="Predict"/> may answer outside the label set (generated text): the host then always reports
    /// <c>invalid_rate</c>, also when it is 0. Default: no. Since SDK 2.1.</summary>
    bool MayAnswerInvalid => false;

    /// <summary>Other ways this objective predicts, each scored beside <see cref="Predict"/> and reported as <c>NAME.metric</c>
    /// (text-to-text: free generation beside the constrained choice), with <c>NAME.invalid_rate</c>. The main predictions pick the
    /// best epoch. Default: none.</summary>
    IReadOnlyList<string> Alternatives => [];

    /// <summary>The predictions of alternative <paramref name="name"/> (one of <see cref="Alternatives"/>), as
    /// <see cref="Predict"/>.</summary>
    IReadOnlyList<Prediction> PredictAlternative(string name, IReadOnlyList<Example> batch) =>
        throw new NotSupportedException($"{GetType().Name} has no alternative predictions");

    /// <summary>The tokens this objective feeds the model before its answer for <paramref name="example"/>, exactly as it trains
    /// and predicts (text-to-text: <c>&lt;|endoftext|&gt;</c>, the prefixed input cut to fit, the separator; in-context: the
    /// demonstrations and the query), so <c>generate --run --template</c> prompts a trained model as it was trained; null when
    /// the objective has no such prompt. Since SDK 2.1.</summary>
    int[]? PromptTokens(Example example) => null;

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
