using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>
/// Gradient checkpointing of one block (<c>training.gradient_checkpointing</c>): the forward pass runs without keeping the
/// block's activations, and the backward pass runs the block again from its saved input, with the random generator put back
/// as it was (the same dropout masks), then back-propagates through that recomputation — PyTorch's reentrant
/// <c>torch.utils.checkpoint</c>, which TorchSharp 0.107 lacks, as a custom autograd function. Peak memory drops from every
/// block's activations to one block's at a time, for about one more forward pass of compute. The block's parameters (and any
/// method's, inside it) receive their gradients during the recomputation's backward.
/// </summary>
public sealed class BlockCheckpoint : torch.autograd.SingleTensorFunction<BlockCheckpoint>
{
    public override string Name => nameof(BlockCheckpoint);

    /// <summary>The block's output; gradients reach <paramref name="x"/> and every parameter <paramref name="block"/> uses.</summary>
    public static Tensor Run(Tensor x, Func<Tensor, Tensor> block) => apply(x, block);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var block = (Func<Tensor, Tensor>)vars[1];
        ctx.save_for_backward([x]);
        ctx.save_data("block", block);
        // As bytes: TorchSharp warns (on stdout) when context data holds a tensor.
        using (var rng = torch.get_rng_state()) ctx.save_data("rng", rng.data<byte>().ToArray());
        // The block's intermediate tensors are freed now, not at the step's end: that is the memory checkpointing saves.
        using var scope = torch.NewDisposeScope();
        return block(x).MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var block = (Func<Tensor, Tensor>)ctx.get_data("block");
        using var rng = torch.tensor((byte[])ctx.get_data("rng"));
        Tensor inputGrad;
        using (var scope = torch.NewDisposeScope())   // the recomputed activations go as soon as their gradients are taken
        {
            var input = ctx.get_saved_variables()[0].detach().requires_grad_(true);
            var now = torch.get_rng_state();
            torch.set_rng_state(rng);   // the forward pass's dropout draws, again
            Tensor output;
            using (torch.enable_grad()) output = block(input);
            torch.set_rng_state(now);
            torch.autograd.backward([output], [gradOutput]);
            inputGrad = input.grad!.MoveToOuterDisposeScope();
        }
        return [inputGrad, null!];   // one gradient per argument of apply: none for the block function
    }
}
