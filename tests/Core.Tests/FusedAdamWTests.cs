using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Tests;

/// <summary>
/// The AdamW rule runs LibTorch's fused kernel over TorchSharp's AdamW state: it must update as TorchSharp's own step does, skip
/// tensors without gradients as it does, and share its state file both ways.
/// </summary>
public class FusedAdamWTests
{
    const double WeightDecay = 0.1, Beta1 = 0.9, Beta2 = 0.95;

    [Fact]
    public void Fused_update_equals_TorchSharps_AdamW_over_a_decoders_groups_and_a_changing_learning_rate()
    {
        var (model, fused) = Decoder(seed: 3);
        var (_, plain) = Decoder(seed: 3);
        using var fusedStep = new OptimizerStep(fused, Schedule, WeightDecay, gradClip: 0);
        using var plainRule = TorchSharpAdamW(plain);
        for (int step = 0; step < 4; step++)
        {
            Backward(model, step);
            CopyGradients(fused, plain);
            double lr = fusedStep.Step(step);
            foreach (var g in plainRule.ParamGroups) g.LearningRate = lr;
            plainRule.step();
            plainRule.zero_grad();
            AssertSameWeights(plain, fused, tolerance: 2e-6);
        }
    }

    [Fact]
    public void A_tensor_without_a_gradient_keeps_its_weights_and_its_step_count()
    {
        var used = new Parameter(torch.ones(3));
        var unused = new Parameter(torch.tensor(new[] { 0.5f, 0.5f }));
        TrainableTensor[] tensors = [new("used", used, ParameterSettings.NoDecay), new("unused", unused, ParameterSettings.NoDecay)];
        using var optimizer = new OptimizerStep(tensors, Schedule, WeightDecay, gradClip: 0);
        var path = Path.GetTempFileName();
        try
        {
            for (int t = 0; t < 2; t++)
            {
                using (var loss = (used * used).sum()) loss.backward();
                optimizer.Step(t);
            }
            Assert.Equal([0.5f, 0.5f], unused.data<float>().ToArray());
            Assert.NotEqual([1f, 1f, 1f], used.data<float>().ToArray());
            optimizer.Rule.Save(path);
            using var reloaded = TorchSharpAdamW(tensors);
            reloaded.load_state_dict(path);
            var steps = reloaded.state_dict().State.Cast<AdamW.State>().Select(s => s.step).ToArray();
            Assert.Equal([2L, 0L], steps);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void State_saved_by_either_rule_continues_in_the_other_exactly_as_it_would_have(bool fusedFirst)
    {
        float[] Train(bool reload)
        {
            var w = new Parameter(torch.linspace(-1, 1, 12).reshape(3, 4));
            var b = new Parameter(torch.linspace(0.5, -0.5, 4));
            TrainableTensor[] tensors = [new("w", w, new ParameterSettings(true)), new("b", b, ParameterSettings.NoDecay)];
            var path = Path.GetTempFileName();
            try
            {
                using var fused = new OptimizerStep(tensors, Schedule, WeightDecay, gradClip: 0);
                using var plain = TorchSharpAdamW(tensors);
                for (int t = 0; t < 4; t++)
                {
                    bool useFused = (t < 2) == fusedFirst;
                    if (reload && t == 2)
                    {
                        if (fusedFirst) { fused.Rule.Save(path); plain.load_state_dict(path); }
                        else { plain.save_state_dict(path); fused.Rule.Load(path); }
                    }
                    // A loss whose gradients are fixed random tensors: the same in both runs, bit for bit.
                    var generator = new torch.Generator(seed: (ulong)(100 + t));
                    using (var gw = torch.randn(3, 4, generator: generator))
                    using (var gb = torch.randn(4, generator: generator))
                    using (var loss = (w * gw).sum() + (b * gb).sum())
                        loss.backward();
                    if (useFused || !reload) fused.Step(t);
                    else { foreach (var g in plain.ParamGroups) g.LearningRate = Schedule.At(t); plain.step(); plain.zero_grad(); }
                }
                return [.. w.data<float>(), .. b.data<float>()];
            }
            finally { File.Delete(path); }
        }
        var straight = Train(reload: false);
        var handedOver = Train(reload: true);
        Assert.Equal(straight.Length, handedOver.Length);
        for (int i = 0; i < straight.Length; i++)
            Assert.True(Math.Abs(straight[i] - handedOver[i]) <= 2e-6, $"weight {i}: {straight[i]:R} against {handedOver[i]:R}");
    }

    static readonly LearningRateSchedule Schedule = new(1e-2, 1e-3, WarmupSteps: 1, TotalSteps: 4);

    static (Decoder Model, IReadOnlyList<TrainableTensor> Tensors) Decoder(int seed)
    {
        torch.manual_seed(seed);
        // No dropout: the two models' backward passes must see the same gradients.
        var model = new Decoder(Presets.Tiny with { EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 });
        model.train();
        return (model, TrainableTensor.Defaults(model.named_parameters()));
    }

    static void Backward(Decoder model, int step)
    {
        using var scope = torch.NewDisposeScope();
        var generator = new torch.Generator(seed: (ulong)(100 + step));
        var ids = torch.randint(0, model.Config.Vocab, [2, 16], generator: generator);
        model.LanguageModelLoss(ids, ids).backward();
    }

    /// <summary>The same gradients on the other model's tensors: two backward passes need not agree in the last bits (threaded
    /// reductions), and AdamW magnifies that where a true gradient is zero (the keys' bias), so each test computes them once.</summary>
    static void CopyGradients(IReadOnlyList<TrainableTensor> from, IReadOnlyList<TrainableTensor> to)
    {
        for (int i = 0; i < from.Count; i++) to[i].Parameter.grad = from[i].Parameter.grad!.clone();
    }

    /// <summary>TorchSharp's own AdamW over the same groups <see cref="OptimizerStep"/> makes (decayed first, as it orders them).</summary>
    static AdamW TorchSharpAdamW(IReadOnlyList<TrainableTensor> tensors) => torch.optim.AdamW(
        tensors.GroupBy(t => t.Settings).OrderByDescending(g => g.Key.WeightDecay).Select(g => new AdamW.ParamGroup(
            g.Select(t => t.Parameter), lr: Schedule.Peak, beta1: Beta1, beta2: Beta2, weight_decay: g.Key.WeightDecay ? WeightDecay : 0)),
        Schedule.Peak, Beta1, Beta2);

    static void AssertSameWeights(IReadOnlyList<TrainableTensor> expected, IReadOnlyList<TrainableTensor> actual, double tolerance)
    {
        for (int i = 0; i < expected.Count; i++)
        {
            var difference = (expected[i].Parameter - actual[i].Parameter).abs().max().item<float>();
            Assert.True(difference <= tolerance, $"{expected[i].Name}: fused and TorchSharp's AdamW differ by {difference}");
        }
    }
}
