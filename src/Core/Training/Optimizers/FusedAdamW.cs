using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training.Optimizers;

/// <summary>
/// AdamW whose update runs as LibTorch's fused kernel (<c>_fused_adamw_</c>, what PyTorch's <c>AdamW(fused=True)</c> calls): one
/// pass over each tensor's weights, gradient and moments instead of TorchSharp's nine tensor operations per parameter, each a
/// separate pass and call. At the <c>small</c> preset (52 tensors, 2.6 M weights) the update after a backward took 9.5 ms that
/// way and 5.2 ms fused (2-core Xeon with AMX). The moments, step counts, learning rates and the state file are TorchSharp's
/// <see cref="AdamW"/>'s, so a state saved by either loads into the other.
/// </summary>
sealed class FusedAdamW(AdamW optimizer) : IUpdateRule
{
    // TorchSharp binds no fused optimizer kernel, but TorchScript reaches every ATen operator: a one-function compilation unit
    // calls it. The source is fixed, so it compiles once per process (a compile error would abort the process: tested).
    const string Source = """
        def adamw(params: List[Tensor], grads: List[Tensor], exp_avgs: List[Tensor], exp_avg_sqs: List[Tensor],
                  steps: List[Tensor], lr: float, beta1: float, beta2: float, weight_decay: float, eps: float,
                  maximize: bool) -> Tensor:
            no_max_exp_avg_sqs: List[Tensor] = []
            torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, no_max_exp_avg_sqs, steps, lr=lr, beta1=beta1,
                                beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=maximize)
            return steps[0]
        """;

    static readonly Lazy<jit.CompilationUnit> Script = new(() => jit.compile(Source + "\n"));   // TorchScript wants the last line ended

    readonly torch.optim.ILearningRateController[] groups = optimizer.ParamGroups.ToArray();

    public void SetLearningRate(int group, double lr) => groups[group].LearningRate = lr;

    public void Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // The live per-parameter states, in the groups' parameter order (TorchSharp's state_dict holds references, not copies).
        var states = optimizer.state_dict().State.Cast<AdamW.State>().GetEnumerator();
        foreach (var group in optimizer.ParamGroups.Cast<AdamW.ParamGroup>())
        {
            var withGradients = new List<(Parameter Parameter, Tensor Gradient, AdamW.State State)>();
            foreach (var parameter in group.Parameters)
            {
                states.MoveNext();
                if (parameter.grad is { } gradient) withGradients.Add((parameter, gradient, states.Current));
            }
            // One call per device and dtype: the kernel's CUDA form needs its lists uniform.
            foreach (var same in withGradients.GroupBy(p => (p.Parameter.device.ToString(), p.Parameter.dtype)))
                Update([.. same], (AdamW.Options)group.Options);
        }
    }

    static void Update(IReadOnlyList<(Parameter Parameter, Tensor Gradient, AdamW.State State)> tensors, AdamW.Options options)
    {
        if (options.amsgrad == true) throw new NotSupportedException("AdamW with amsgrad is not fused");
        var device = tensors[0].Parameter.device;
        // The kernel reads each tensor's step count (after this step) from a float tensor on its device: one tensor, unbound.
        using var stepCounts = tensor(tensors.Select(t => (float)(t.State.step + 1)).ToArray(), device: device);
        Script.Value.invoke("adamw",
            tensors.Select(t => (Tensor)t.Parameter).ToArray(), tensors.Select(t => t.Gradient).ToArray(),
            tensors.Select(t => t.State.exp_avg).ToArray(), tensors.Select(t => t.State.exp_avg_sq).ToArray(), stepCounts.unbind(),
            options.LearningRate!.Value, options.beta1!.Value, options.beta2!.Value, options.weight_decay!.Value, options.eps!.Value,
            options.maximize == true);
        foreach (var t in tensors) t.State.step++;   // only once the update has run
    }

    public void ZeroGrad() => optimizer.zero_grad();
    public void Save(string path) => optimizer.save_state_dict(path);
    public void Load(string path) => optimizer.load_state_dict(path);
    public void Dispose() => optimizer.Dispose();
}
