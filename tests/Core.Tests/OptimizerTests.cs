using System.Text.Json;
using PluginGpt.Core.Training;
using PluginGpt.Core.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Core.Tests;

/// <summary>
/// Each update rule against PyTorch's own update on a fixed gradient sequence (Fixtures/optimizers/reference.py, run once with
/// Debian's python3-torch 1.13; its output is reference.json): a decayed 3×4 matrix and an undecayed 4-vector, five steps,
/// weights compared after every step. Adafactor's reference is PyTorch 2.5's `_single_tensor_adafactor` written out in torch
/// operations, as 1.13 has no Adafactor.
/// </summary>
public class OptimizerTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "optimizers", "reference.json"))).RootElement;

    [Theory]
    [InlineData("adamw", 0.01)]
    [InlineData("sgd", 0.05)]
    [InlineData("adafactor", 0.01)]
    public void Each_optimizer_matches_PyTorchs_update_step_by_step(string name, double lr)
    {
        var w = new Parameter(torch.tensor(Grid(3, 4, (i, j) => 0.5 * Math.Sin(1 + i * 4 + j)), 3, 4));
        var b = new Parameter(torch.tensor(Enumerable.Range(0, 4).Select(k => (float)(0.3 * Math.Cos(1 + k))).ToArray()));
        TrainableTensor[] tensors = [new("w", w, new ParameterSettings(true)), new("b", b, ParameterSettings.NoDecay)];
        var constant = new LearningRateSchedule(lr, lr, 0, 100, LearningRateSchedule.Constant);
        using var optimizer = new OptimizerStep(tensors, constant, weightDecay: 0.01, gradClip: 0,
            new OptimizerChoice(name, Beta2: 0.999, Momentum: 0.9));
        var expected = Reference.GetProperty(name).EnumerateArray().ToList();
        for (int t = 1; t <= expected.Count; t++)
        {
            // A loss whose gradient is exactly the step's fixed gradient.
            using (var gw = torch.tensor(Grid(3, 4, (i, j) => Math.Sin(0.37 * (i * 4 + j) + 0.91 * t) * (1 + 0.5 * t) / 3), 3, 4))
            using (var gb = torch.tensor(Enumerable.Range(0, 4).Select(k => (float)(0.2 * Math.Cos(0.53 * k + 1.7 * t))).ToArray()))
            using (var loss = (w * gw).sum() + (b * gb).sum())
                loss.backward();
            optimizer.Step(t - 1);
            AssertClose(expected[t - 1].GetProperty("w"), w, $"{name} step {t} w");
            AssertClose(expected[t - 1].GetProperty("b"), b, $"{name} step {t} b");
        }
    }

    [Fact]
    public void Adafactor_state_saved_and_loaded_continues_exactly()
    {
        float[] Train(bool reload)
        {
            var w = new Parameter(torch.tensor(Grid(3, 4, (i, j) => Math.Sin(i + 2 * j)), 3, 4));
            var b = new Parameter(torch.ones(4));
            TrainableTensor[] tensors = [new("w", w, new ParameterSettings(true)), new("b", b, ParameterSettings.NoDecay)];
            var schedule = new LearningRateSchedule(0.01, 0.01, 0, 10, LearningRateSchedule.Constant);
            var optimizer = new OptimizerStep(tensors, schedule, 0.01, 0, new OptimizerChoice(OptimizerChoice.Adafactor));
            var path = Path.GetTempFileName();
            try
            {
                for (int t = 0; t < 4; t++)
                {
                    if (reload && t == 2)
                    {
                        optimizer.Rule.Save(path);
                        optimizer.Dispose();
                        optimizer = new OptimizerStep(tensors, schedule, 0.01, 0, new OptimizerChoice(OptimizerChoice.Adafactor));
                        optimizer.Rule.Load(path);
                    }
                    using (var loss = (w * w * (t + 1)).sum() + (b * b).sum()) loss.backward();
                    optimizer.Step(t);
                }
                return [.. w.data<float>(), .. b.data<float>()];
            }
            finally { optimizer.Dispose(); File.Delete(path); }
        }
        Assert.Equal(Train(reload: false), Train(reload: true));
    }

    [Fact]
    public void Schedules_warm_up_then_decay_linearly_by_cosine_or_not_at_all()
    {
        var linear = new LearningRateSchedule(1.0, 0, WarmupSteps: 10, TotalSteps: 110, LearningRateSchedule.Linear);
        Assert.Equal(0.1, linear.At(0), 12);
        Assert.Equal(1.0, linear.At(10), 12);
        Assert.Equal(0.75, linear.At(35), 12);   // a quarter of the decay done
        Assert.Equal(0.0, linear.At(110), 12);
        var constant = new LearningRateSchedule(1.0, 0, WarmupSteps: 10, TotalSteps: 110, LearningRateSchedule.Constant);
        Assert.Equal(0.5, constant.At(4), 12);
        Assert.Equal(1.0, constant.At(60), 12);
        Assert.Equal(1.0, constant.At(500), 12);
        var cosine = new LearningRateSchedule(1.0, 0, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(0.5, cosine.At(60), 12);
    }

    static float[] Grid(int rows, int columns, Func<int, int, double> value) =>
        [.. Enumerable.Range(0, rows * columns).Select(k => (float)value(k / columns, k % columns))];

    static void AssertClose(JsonElement expected, torch.Tensor actual, string what)
    {
        var want = expected.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var got = actual.data<float>().ToArray();
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6, $"{what}[{i}]: PyTorch {want[i]:R}, ours {got[i]:R}");
    }
}
