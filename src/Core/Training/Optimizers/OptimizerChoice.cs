using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Training.Optimizers;

/// <summary>Which update rule a run trains with, and its rule-specific settings (<c>training.optimizer</c>).</summary>
public sealed record OptimizerChoice(string Name = OptimizerChoice.AdamW, double Beta1 = 0.9, double Beta2 = 0.95, double Momentum = 0.9)
{
    public const string AdamW = "adamw", Sgd = "sgd", Adafactor = "adafactor";

    /// <summary>The names <c>training.optimizer</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = [AdamW, Sgd, Adafactor];

    /// <summary>The rule over <paramref name="groups"/>: AdamW (decoupled decay), SGD with momentum (decay added to the gradient,
    /// as PyTorch's SGD), or Adafactor (PyTorch's formulation; the learning rate caps the relative step size).</summary>
    public IUpdateRule Create(IReadOnlyList<UpdateGroup> groups) => Name switch
    {
        AdamW => new FusedAdamW(torch.optim.AdamW(
            groups.Select(g =>
                new AdamW.ParamGroup(g.Parameters, lr: g.LearningRate, beta1: Beta1, beta2: Beta2, weight_decay: g.WeightDecay)),
            groups.FirstOrDefault()?.LearningRate ?? 1e-3, Beta1, Beta2)),
        Sgd => new TorchUpdateRule(torch.optim.SGD(
            groups.Select(g => new SGD.ParamGroup(g.Parameters, lr: g.LearningRate, momentum: Momentum, weight_decay: g.WeightDecay)),
            groups.FirstOrDefault()?.LearningRate ?? 1e-3, Momentum)),
        Adafactor => new Adafactor(groups),
        _ => throw new OptionsException($"training.optimizer: unknown \"{Name}\"; choose one of {string.Join(", ", Names)}"),
    };
}
