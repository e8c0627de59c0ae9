using System.Diagnostics;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Bench;

/// <summary>Where a training step's time goes: its phases, and each forward op kind timed alone at the step's shapes.</summary>
public sealed record StepProfile(string Precision, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds,
    IReadOnlyList<(string Op, double Seconds)> ForwardOps)
{
    /// <summary>Each op kind's backward alone (its forward and backward, less its forward), times how often a step runs it.</summary>
    public IReadOnlyList<(string Op, double Seconds)> BackwardOps { get; init; } = [];
}

/// <summary>
/// Profiles one training step of a fresh model (TorchSharp has no op profiler): forward, backward and optimizer phases timed
/// around a real step, and every forward op kind re-run alone with the step's shapes, times its count per step (per layer
/// ops × layers). Medians over a few repeats; figures are for comparing within one run.
/// </summary>
public static class StepProfiler
{
    public static StepProfile Run(GptConfig config, int batch, int block, Device device, PrecisionChoice precision, int repeats = 5)
    {
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config);
        model.to(device);
        model.train();
        var tensors = TrainableTensor.Defaults(model.named_parameters());
        using var optimizer = new OptimizerStep(tensors, new LearningRateSchedule(1e-4, 1e-4, 0, 100), 0.1, gradClip: 1.0);
        var (forward, backward, step) = (new List<double>(), new List<double>(), new List<double>());
        for (int i = 0; i < repeats + 2; i++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randint(0, config.Vocab, [batch, block], device: device);
            var w = Stopwatch.StartNew();
            double f, b;
            using (Autocast.CacheCasts())   // as training steps do
            {
                var loss = model.LanguageModelLoss(x, x);
                loss.item<float>();
                f = w.Elapsed.TotalSeconds;
                loss.backward();
                b = w.Elapsed.TotalSeconds - f;
            }
            optimizer.Step(i);
            double o = w.Elapsed.TotalSeconds - f - b;
            if (i < 2) continue;   // the first steps allocate optimizer state
            forward.Add(f); backward.Add(b); step.Add(o);
        }
        return new StepProfile(precision.Name, Median(forward), Median(backward), Median(step), Ops(config, batch, block, device, repeats))
        {
            BackwardOps = BackwardOps(config, batch, block, device, repeats),
        };
    }

    /// <summary>Each forward op kind alone, at the step's shapes, times how often a step runs it.</summary>
    static IReadOnlyList<(string, double)> Ops(GptConfig c, int batch, int block, Device device, int repeats)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        long d = c.ModelDim, tokens = (long)batch * block;
        var h = torch.randn(tokens, d, device: device);
        var ff = torch.randn(tokens, c.InnerDim, device: device);
        var ids = torch.randint(0, c.Vocab, [tokens], device: device);
        TorchSharp.Modules.Linear Dense(long i, long o) => torch.nn.Linear(i, o, device: device);
        var (qkv, proj, fc, fcProj) = (Dense(d, 3 * d), Dense(d, d), Dense(d, c.InnerDim), Dense(c.InnerDim, d));
        var wte = torch.randn(c.Vocab, d, device: device);
        var norm = LayerNorm(d, device: device);
        Tensor Heads() => Autocast.Compute(torch.randn(batch, c.Heads, block, c.HeadDim, device: device));
        var (q, k, v) = (Heads(), Heads(), Heads());
        var logits = torch.randn(tokens, c.Vocab, device: device);
        int layers = c.Layers;
        var ops = new List<(string, double)>
        {
            ("embedding lookup", Time(() => wte.index_select(0, ids), repeats)),
            ($"layer norm × {2 * layers + 1}", (2 * layers + 1) * Time(() => norm.forward(h), repeats)),
            ($"q/k/v projection × {layers}", layers * Time(() => Autocast.Linear(qkv, h), repeats)),
            ($"attention (causal, as trained) × {layers}", layers * Time(() => Attention(q, k, v, block), repeats)),
            ($"attention out projection × {layers}", layers * Time(() => Autocast.Linear(proj, h), repeats)),
            ($"MLP up (c_fc) × {layers}", layers * Time(() => Autocast.Linear(fc, h), repeats)),
            ($"{c.Activation} × {layers}", layers * Time(() => Mlp.Activate(c.Activation, Autocast.Compute(ff)), repeats)),
            ($"MLP down (c_proj) × {layers}", layers * Time(() => Autocast.Linear(fcProj, ff), repeats)),
            ("LM head (tied wte)", Time(() => Autocast.Linear(h, wte), repeats)),
            ("cross-entropy over the vocabulary", Time(() => functional.cross_entropy(logits, ids), repeats)),
        };
        foreach (var m in new Module[] { qkv, proj, fc, fcProj, norm }) m.Dispose();
        return ops;
    }

    /// <summary>The backward of each op kind at the step's shapes: inputs and weights require gradients, as in a
    /// step; the time of forward + backward less the forward's.</summary>
    static IReadOnlyList<(string, double)> BackwardOps(GptConfig c, int batch, int block, Device device, int repeats)
    {
        using var scope = torch.NewDisposeScope();
        long d = c.ModelDim, tokens = (long)batch * block;
        Tensor Input(params long[] shape) => torch.randn(shape, device: device).requires_grad_();
        var (h, ff) = (Input(tokens, d), Input(tokens, c.InnerDim));
        TorchSharp.Modules.Linear Dense(long i, long o) => torch.nn.Linear(i, o, device: device);
        var (qkv, proj, fc, fcProj) = (Dense(d, 3 * d), Dense(d, d), Dense(d, c.InnerDim), Dense(c.InnerDim, d));
        var norm = LayerNorm(d, device: device);
        var wte = Input(c.Vocab, d);
        var logits = Input(tokens, c.Vocab);
        var ids = torch.randint(0, c.Vocab, [tokens], device: device);
        var (q, k, v) = (Input(batch, c.Heads, block, c.HeadDim), Input(batch, c.Heads, block, c.HeadDim),
            Input(batch, c.Heads, block, c.HeadDim));
        int layers = c.Layers;
        double Backward(Func<Tensor> op) => Math.Max(0, TimeWithBackward(op, repeats) - Time(op, repeats));
        var ops = new List<(string, double)>
        {
            ("embedding lookup", Backward(() => wte.index_select(0, ids))),
            ($"layer norm × {2 * layers + 1}", (2 * layers + 1) * Backward(() => norm.forward(h))),
            ($"q/k/v projection × {layers}", layers * Backward(() => Autocast.Linear(qkv, h))),
            ($"attention (causal, as trained) × {layers}", layers * Backward(() =>
                Attention(Autocast.Compute(q), Autocast.Compute(k), Autocast.Compute(v), block))),
            ($"attention out projection × {layers}", layers * Backward(() => Autocast.Linear(proj, h))),
            ($"MLP up (c_fc) × {layers}", layers * Backward(() => Autocast.Linear(fc, h))),
            ($"{c.Activation} × {layers}", layers * Backward(() => Mlp.Activate(c.Activation, Autocast.Compute(ff)))),
            ($"MLP down (c_proj) × {layers}", layers * Backward(() => Autocast.Linear(fcProj, ff))),
            ("LM head (tied wte)", Backward(() => Autocast.Linear(h, wte))),
            ("cross-entropy over the vocabulary", Backward(() => functional.cross_entropy(logits, ids))),
        };
        foreach (var m in new Module[] { qkv, proj, fc, fcProj, norm }) m.Dispose();
        return ops;
    }

    /// <summary>Attention as a training step runs it (<see cref="ScaledAttention"/>: on CPU a bf16 region attends unfused in
    /// bf16 up to its size limit, in fp32 past it), so the profile times the path the model takes, not bare SDPA.</summary>
    static Tensor Attention(Tensor q, Tensor k, Tensor v, int block) =>
        ScaledAttention.Attend(q, k, v, block, 0, 0, null, dropout: 0, training: true);

    static double TimeWithBackward(Func<Tensor> op, int repeats)
    {
        var times = new List<double>();
        for (int i = 0; i < repeats + 1; i++)
        {
            using var scope = torch.NewDisposeScope();
            var w = Stopwatch.StartNew();
            Autocast.Float(op()).sum().backward();
            if (i > 0) times.Add(w.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    static double Time(Func<Tensor> op, int repeats)
    {
        var times = new List<double>();
        for (int i = 0; i < repeats + 1; i++)
        {
            using var scope = torch.NewDisposeScope();
            var w = Stopwatch.StartNew();
            Autocast.Float(op()).sum().item<float>();   // the sum forces the op to finish (and costs a read of its output)
            if (i > 0) times.Add(w.Elapsed.TotalSeconds);
        }
        return Median(times);
    }

    static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
}
