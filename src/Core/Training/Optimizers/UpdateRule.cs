using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Training.Optimizers;

/// <summary>How accumulated gradients become a weight update, over parameter groups fixed at construction (one per distinct
/// <see cref="ParameterSettings"/>). <see cref="OptimizerStep"/> owns the schedule and clipping around it.</summary>
public interface IUpdateRule : IDisposable
{
    /// <summary>Sets group <paramref name="group"/>'s learning rate for the next <see cref="Step"/>.</summary>
    void SetLearningRate(int group, double lr);

    /// <summary>Applies the parameters' gradients.</summary>
    void Step();

    /// <summary>Clears the gradients.</summary>
    void ZeroGrad();

    /// <summary>Writes the rule's state (moments, step counts) so a resumed run continues exactly.</summary>
    void Save(string path);

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    void Load(string path);
}

/// <summary>One parameter group: its tensors, whether weight decay applies, its peak learning rate.</summary>
public sealed record UpdateGroup(IReadOnlyList<Parameter> Parameters, double WeightDecay, double LearningRate);

/// <summary>AdamW or SGD: TorchSharp's own optimizers (PyTorch's algorithms) behind <see cref="IUpdateRule"/>.</summary>
sealed class TorchUpdateRule(OptimizerHelper optimizer) : IUpdateRule
{
    readonly torch.optim.ILearningRateController[] groups = optimizer.ParamGroups.ToArray();

    public void SetLearningRate(int group, double lr) => groups[group].LearningRate = lr;
    public void Step() => optimizer.step();
    public void ZeroGrad() => optimizer.zero_grad();
    public void Save(string path) => optimizer.save_state_dict(path);
    public void Load(string path) => optimizer.load_state_dict(path);
    public void Dispose() => optimizer.Dispose();
}
