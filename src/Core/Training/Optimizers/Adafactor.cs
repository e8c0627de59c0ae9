using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training.Optimizers;

/// <summary>
/// Adafactor (Shazeer and Stern 2018), the optimizer T5 was trained with, in PyTorch 2.5's formulation
/// (<c>torch.optim.Adafactor</c>): the second moment of a matrix is kept as a row and a column factor (memory O(n + m), not
/// O(n·m)), β₂ rises as 1 − t^−0.8, the step is relative to the weight's RMS and capped by the learning rate
/// (ρ = min(lr, 1/√t)), updates are clipped to RMS ≤ d, and decay is decoupled (θ ← θ(1 − lr·λ)). No first moment.
/// Written here because TorchSharp 0.107 has no Adafactor; OptimizerTests checks it against PyTorch's update.
/// </summary>
public sealed class Adafactor : IUpdateRule
{
    const double Beta2Decay = -0.8, Epsilon2 = 1e-3, ClipThreshold = 1.0;

    sealed class Moments
    {
        public long Step;
        public Tensor? Row, Column, Variance;
    }

    readonly IReadOnlyList<UpdateGroup> groups;
    readonly double[] rates;
    readonly Dictionary<Parameter, Moments> states = new(ReferenceEqualityComparer.Instance);

    public Adafactor(IReadOnlyList<UpdateGroup> groups)
    {
        this.groups = groups;
        rates = groups.Select(g => g.LearningRate).ToArray();
    }

    public void SetLearningRate(int group, double lr) => rates[group] = lr;

    public void Step()
    {
        using var noGrad = no_grad();
        for (int g = 0; g < groups.Count; g++)
            foreach (var p in groups[g].Parameters)
                if (p.grad is { } grad) Update(p, grad, rates[g], groups[g].WeightDecay);
    }

    void Update(Parameter p, Tensor grad, double lr, double weightDecay)
    {
        using var scope = NewDisposeScope();
        double eps1 = MachineEpsilon(p.dtype);
        var s = State(p, grad);
        s.Step++;
        double oneMinusBeta2 = Math.Pow(s.Step, Beta2Decay);
        double rho = Math.Min(lr, 1 / Math.Sqrt(s.Step));
        double alpha = Math.Max(Epsilon2, p.norm().item<float>() / Math.Sqrt(p.numel())) * rho;
        if (weightDecay != 0) p.mul_(1 - lr * weightDecay);
        Tensor estimate;
        if (grad.dim() > 1)
        {
            s.Row!.lerp_(grad.square().mean([-1], keepdim: true), oneMinusBeta2);
            s.Column!.lerp_(grad.square().mean([-2], keepdim: true), oneMinusBeta2);
            estimate = matmul(s.Row, s.Column).div_(s.Row.mean([-2], keepdim: true).clamp_(min: eps1));
        }
        else
        {
            s.Variance!.lerp_(grad.square(), oneMinusBeta2);
            estimate = s.Variance.clone();
        }
        var update = estimate.clamp_(min: eps1 * eps1).rsqrt_().mul_(grad);
        double denominator = Math.Max(1.0, update.norm().item<float>() / (Math.Sqrt(update.numel()) * ClipThreshold));
        p.add_(update, alpha: -alpha / denominator);
    }

    /// <summary>torch.finfo(dtype).eps, PyTorch's default ε₁.</summary>
    static double MachineEpsilon(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => Math.Pow(2, -52),
        ScalarType.BFloat16 => Math.Pow(2, -7),
        ScalarType.Float16 => Math.Pow(2, -10),
        _ => Math.Pow(2, -23),
    };

    Moments State(Parameter p, Tensor grad)
    {
        if (states.TryGetValue(p, out var s)) return s;
        s = new Moments();
        if (grad.dim() > 1)
        {
            var rowShape = grad.shape.ToArray(); rowShape[^1] = 1;
            var columnShape = grad.shape.ToArray(); columnShape[^2] = 1;
            s.Row = zeros(rowShape, grad.dtype, grad.device).DetachFromDisposeScope();
            s.Column = zeros(columnShape, grad.dtype, grad.device).DetachFromDisposeScope();
        }
        else s.Variance = zeros_like(grad).DetachFromDisposeScope();
        return states[p] = s;
    }

    public void ZeroGrad()
    {
        foreach (var p in groups.SelectMany(g => g.Parameters)) p.grad?.zero_();
    }

    /// <summary>Each parameter's step count and factors, in group order (a parameter without state writes step 0).</summary>
    public void Save(string path)
    {
        using var writer = new BinaryWriter(File.Create(path));
        foreach (var p in groups.SelectMany(g => g.Parameters))
        {
            var s = states.GetValueOrDefault(p);
            writer.Write(s?.Step ?? 0);
            if (s is null) continue;
            foreach (var t in new[] { s.Row, s.Column, s.Variance }.OfType<Tensor>()) t.Save(writer);
        }
    }

    public void Load(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        foreach (var p in groups.SelectMany(g => g.Parameters))
        {
            long step = reader.ReadInt64();
            if (step == 0) continue;
            using var noGrad = no_grad();
            var s = State(p, p);
            s.Step = step;
            foreach (var t in new[] { s.Row, s.Column, s.Variance }.OfType<Tensor>()) t.Load(reader);
        }
    }

    public void Dispose()
    {
        foreach (var s in states.Values)
            foreach (var t in new[] { s.Row, s.Column, s.Variance }) t?.Dispose();
        states.Clear();
    }
}
