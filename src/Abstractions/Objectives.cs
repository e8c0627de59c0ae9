using System.Text.Json;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>What an objective gets to build itself: the model, its tokenizer, the task and its options.</summary>
public sealed record ObjectiveContext(IDecoder Model, ITokenizer Tokenizer, TaskData Task, JsonElement Options);

/// <summary>How a labelled example becomes logits and a loss (classifier head, cloze, text-to-text, in-context).</summary>
public interface IObjective : IPlugin
{
    IObjectiveInstance Create(ObjectiveContext context);
}

public interface IObjectiveInstance
{
    /// <summary>The objective's own parameters (a task head), trained beside the method's.</summary>
    IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }
    /// <summary>False for objectives that only predict (in-context learning).</summary>
    bool Trains { get; }
    /// <summary>Mean loss of a batch (a scalar tensor with gradient).</summary>
    Tensor Loss(IReadOnlyList<Example> batch);
    IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch);
    /// <summary>Writes/reads the objective's own weights (the task head is always saved with the adapter).</summary>
    void Save(string directory);
    void Load(string directory);
}
