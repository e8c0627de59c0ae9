using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>
/// The LM head and the summed next-token cross-entropy as one autograd step, a chunk of rows at a time: each chunk's logits
/// (x·Wᵀ in W's type, the softmax in fp32: <see cref="CrossEntropyRows"/> where the CPU allows) are turned into the loss and
/// straight away into their gradient (softmax − one-hot), which two GEMMs turn into the gradients of the rows and of W; the
/// logits are then freed. Training keeps [N, C] and [V, C] gradients instead of [N, V] logits and their log-softmax for the
/// backward pass, and the backward pass is a scaling. The same loss and gradients as the unfused head + cross-entropy (tests);
/// the idea of Liger-Kernel's fused linear cross-entropy. Written by hand: TorchSharp has no fused cross-entropy.
/// </summary>
internal sealed class FusedLinearCrossEntropy : torch.autograd.SingleTensorFunction<FusedLinearCrossEntropy>
{
    public override string Name => nameof(FusedLinearCrossEntropy);

    /// <summary>Σ cross-entropy of rows [N, C] against targets [N] (-1 ignored) under the head <paramref name="weight"/> [V, C]
    /// (fp32, or its bf16 cast inside an <see cref="Autocast"/> region: the GEMMs run in its type).</summary>
    public static Tensor Sum(Tensor rows, Tensor weight, Tensor targets, long rowsPerChunk) =>
        apply(rows, weight, targets, rowsPerChunk);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var (rows, weight, targets, chunk) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (long)vars[3]);
        bool wantRows = rows.requires_grad, wantWeight = weight.requires_grad;
        using var _ = torch.no_grad();
        long n = rows.shape[0];
        // Sums in at least fp32 (fp64 stays fp64: the finite-difference tests).
        var accumulate = weight.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? ScalarType.Float32 : weight.dtype;
        var loss = torch.zeros([], accumulate, rows.device);
        var rowGrad = wantRows ? torch.empty_like(rows) : null;
        // Summed in the head's type, as autograd sums a cast head's per-chunk gradients (PyTorch's autocast does the same).
        var weightGrad = wantWeight ? torch.zeros_like(weight) : null;
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long length = Math.Min(chunk, n - start);
            var x = rows.narrow(0, start, length).to(weight.dtype);
            var target = targets.narrow(0, start, length);
            var logits = x.matmul(weight.t());
            Tensor gradCompute;
            if (CrossEntropyRows.Applies(logits) && target.dtype == ScalarType.Int64)
            {
                loss.add_(CrossEntropyRows.LossAndGradientInPlace(logits, target.contiguous().data<long>().ToArray()));
                gradCompute = logits;   // now the rows' gradients
            }
            else gradCompute = LibTorchRows(logits.to(accumulate), target, loss).to(weight.dtype);
            if (rowGrad is null && weightGrad is null) continue;
            rowGrad?.narrow(0, start, length).copy_(gradCompute.matmul(weight));
            weightGrad?.addmm_(gradCompute.t(), x);
        }
        ctx.save_for_backward([rowGrad ?? torch.empty(0), weightGrad ?? torch.empty(0)]);
        ctx.save_data("grads", (wantRows, wantWeight));
        return loss;
    }

    /// <summary>The rows' summed loss (added to <paramref name="loss"/>) and their gradients [n, V] by LibTorch's passes, for
    /// CPUs and types <see cref="CrossEntropyRows"/> does not serve (and fp64, the finite-difference tests' type).</summary>
    static Tensor LibTorchRows(Tensor logits, Tensor target, Tensor loss)
    {
        var counts = target.ge(0);
        var index = target.clamp(min: 0).unsqueeze(1);   // an ignored row's pick is masked below
        var picked = logits.gather(1, index);
        // One exp per logit, in place (logsumexp and then the softmax would take two): e = exp(z − max), Σe, and
        // log Σ exp z = log Σe + max; the softmax is e / Σe.
        var max = logits.amax([1], keepdim: true);
        var exps = logits.sub_(max).exp_();
        var sum = exps.sum(1, keepdim: true);
        var logSum = sum.log().add_(max);
        loss.add_((logSum - picked).squeeze(1).masked_fill(counts.logical_not(), 0).sum());
        // d loss / d logits = softmax − one-hot on the rows that count, 0 on the others.
        var grad = exps.div_(sum);
        grad.scatter_(1, index, grad.gather(1, index) - 1);
        return grad.mul_(counts.unsqueeze(1));
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var (wantRows, wantWeight) = ((bool, bool))ctx.get_data("grads");
        var saved = ctx.get_saved_variables();
        Tensor? Scaled(bool wanted, Tensor grad) => wanted ? grad * gradOutput.to(grad.dtype) : null;
        return [Scaled(wantRows, saved[0])!, Scaled(wantWeight, saved[1])!, null!, null!];   // none for targets and chunk size
    }
}
