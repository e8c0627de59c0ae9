using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Training;

/// <summary>AdamW with two groups: weight decay on matrices only, none on biases, norms and embeddings.</summary>
public static class OptimizerFactory
{
    /// <summary>Embeddings are matrices too, but decaying them (and the tied head) hurts; GPT-2 names tell them apart.</summary>
    public static bool Decays(string name, Parameter p) => p.dim() >= 2 && !name.EndsWith("wte.weight") && !name.EndsWith("wpe.weight");

    public static AdamW AdamW(IEnumerable<(string Name, Parameter Parameter)> trainable, double lr, double weightDecay, double beta1 = 0.9, double beta2 = 0.95)
    {
        var list = trainable.ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(list.Where(p => Decays(p.Name, p.Parameter)).Select(p => p.Parameter), lr: lr, beta1: beta1, beta2: beta2, weight_decay: weightDecay),
            new AdamW.ParamGroup(list.Where(p => !Decays(p.Name, p.Parameter)).Select(p => p.Parameter), lr: lr, beta1: beta1, beta2: beta2, weight_decay: 0),
        };
        return torch.optim.AdamW(groups.Where(g => g.Parameters.Any()), lr, beta1, beta2);
    }

    public static void SetLearningRate(torch.optim.Optimizer optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }
}
