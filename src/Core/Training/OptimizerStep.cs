using PluginGpt.Core.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Training;

/// <summary>A trainable tensor with the optimizer settings its owner declared.</summary>
public sealed record TrainableTensor(string Name, Parameter Parameter, ParameterSettings Settings)
{
    /// <summary>The body's parameters (a tied tensor once) under the default settings: pre-training and benchmarks.</summary>
    public static IReadOnlyList<TrainableTensor> Defaults(IEnumerable<(string Name, Parameter Parameter)> parameters) =>
        ParameterSet.Distinct(parameters)
            .Select(p => new TrainableTensor(p.Name, p.Parameter, ParameterSettings.Default(p.Name, p.Parameter))).ToList();
}

/// <summary>
/// One optimizer step, the same for pre-training and fine-tuning: the schedule's learning rate (times each group's scale),
/// gradient clipping over every trainable tensor, the chosen update rule (AdamW unless told), zeroed gradients. Tensors are
/// grouped by their settings (weight decay or not, learning-rate scale), decayed groups first.
/// </summary>
public sealed class OptimizerStep : IDisposable
{
    readonly double[] scales;
    readonly Parameter[] parameters;
    readonly LearningRateSchedule schedule;
    readonly double gradClip;

    /// <summary>The update rule (its state is what a resumed run reloads).</summary>
    public IUpdateRule Rule { get; }

    public OptimizerStep(IReadOnlyList<TrainableTensor> tensors, LearningRateSchedule schedule, double weightDecay, double gradClip,
        OptimizerChoice? choice = null)
    {
        this.schedule = schedule;
        this.gradClip = gradClip;
        parameters = tensors.Select(t => t.Parameter).ToArray();
        var groups = tensors.GroupBy(t => t.Settings)
            .OrderByDescending(g => g.Key.WeightDecay).ThenBy(g => g.Key.LearningRateScale).ToList();
        scales = groups.Select(g => g.Key.LearningRateScale).ToArray();
        Rule = (choice ?? new OptimizerChoice()).Create(groups.Select(g => new UpdateGroup(g.Select(t => t.Parameter).ToList(),
            g.Key.WeightDecay ? weightDecay : 0, schedule.Peak * g.Key.LearningRateScale)).ToList());
    }

    /// <summary>Applies the accumulated gradients as optimizer step <paramref name="step"/> (0-based) and returns the learning rate
    /// used.</summary>
    public double Step(int step)
    {
        double lr = schedule.At(step);
        for (int i = 0; i < scales.Length; i++) Rule.SetLearningRate(i, lr * scales[i]);
        using (var scope = torch.NewDisposeScope())
            if (gradClip > 0) torch.nn.utils.clip_grad_norm_(parameters, gradClip);
        Rule.Step();
        Rule.ZeroGrad();
        return lr;
    }

    public void Dispose() => Rule.Dispose();
}
