using System.Diagnostics;
using PluginGpt.Core.Model;
using PluginGpt.Core.Model.Llama;
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
        using var kinds = new OpKinds(c, batch, block, device, withGradients: false);
        return [.. kinds.All.Select(k => (k.Label, k.Count * Time(k.Run, repeats)))];
    }

    /// <summary>The backward of each op kind at the step's shapes: inputs and weights require gradients, as in a
    /// step; the time of forward + backward less the forward's.</summary>
    static IReadOnlyList<(string, double)> BackwardOps(GptConfig c, int batch, int block, Device device, int repeats)
    {
        using var scope = torch.NewDisposeScope();
        using var kinds = new OpKinds(c, batch, block, device, withGradients: true);
        return [.. kinds.All.Select(k => (k.Label, k.Count * Math.Max(0, TimeWithBackward(k.Run, repeats) - Time(k.Run, repeats))))];
    }

    /// <summary>One op kind of a step: its label, how often a step runs it, and the op on inputs of the step's shapes.</summary>
    sealed record OpKind(string Label, int Count, Func<Tensor> Run);

    /// <summary>Every op kind of a training step of the model's family, as its blocks run them: GPT-2's fused q/k/v,
    /// layer norm and MLP with its activation; the Llama family's grouped q/k/v, rotary positions, RMS norm and SwiGLU MLP.</summary>
    sealed class OpKinds : IDisposable
    {
        readonly List<Module> modules = [];
        public IReadOnlyList<OpKind> All { get; }

        public OpKinds(GptConfig c, int batch, int block, Device device, bool withGradients)
        {
            long d = c.ModelDim, tokens = (long)batch * block, keyValueDim = (long)c.KeyValueHeads * c.HeadDim;
            bool llama = c.IsLlamaFamily;
            Tensor Input(params long[] shape)
            {
                var t = torch.randn(shape, device: device);
                return withGradients ? t.requires_grad_() : t;
            }
            T Own<T>(T module) where T : Module { modules.Add(module); return module; }
            TorchSharp.Modules.Linear Dense(long i, long o, bool bias) => Own(torch.nn.Linear(i, o, hasBias: bias, device: device));
            // Without gradients a block's activations come in the compute type, as from a projection; with them, fp32 leaves are
            // cast in the op. The residual stream h stays fp32, as in a step.
            Tensor Activation(params long[] shape) => withGradients ? Input(shape) : Autocast.Compute(Input(shape));
            var (h, ff, gate) = (Input(tokens, d), Activation(tokens, c.InnerDim), Activation(tokens, c.InnerDim));
            // GPT-2: one fused c_attn; Llama: q_proj, k_proj, v_proj (grouped), biased only where attention_bias says.
            var projections = llama
                ? new[] { Dense(d, d, c.AttentionBias), Dense(d, keyValueDim, c.AttentionBias), Dense(d, keyValueDim, c.AttentionBias) }
                : [Dense(d, 3 * d, true)];
            var proj = Dense(d, d, !llama || (c.AttentionBias && c.ModelType == "llama"));
            var (up, down) = (Dense(d, c.InnerDim, !llama), Dense(c.InnerDim, d, !llama));
            Module<Tensor, Tensor> norm = llama ? Own(new RmsNorm(d, c.LayerNormEpsilon, device)) : Own(LayerNorm(d, device: device));
            var wte = Input(c.Vocab, d);
            var logits = Input(tokens, c.Vocab);
            var ids = torch.randint(0, c.Vocab, [tokens], device: device);
            Tensor Heads(int count) => Activation(batch, count, block, c.HeadDim);
            var (q, k, v) = (Heads(c.Heads), Heads(c.KeyValueHeads), Heads(c.KeyValueHeads));
            var (cos, sin) = RotaryEmbedding.Table(torch.arange(block, device: device), c.HeadDim, c.RopeTheta);
            int layers = c.Layers, repeat = c.Heads / c.KeyValueHeads;
            Tensor Attend()
            {
                var (kc, vc) = (Autocast.Compute(k), Autocast.Compute(v));
                if (repeat > 1) (kc, vc) = (kc.repeat_interleave(repeat, 1), vc.repeat_interleave(repeat, 1));
                return Attention(Autocast.Compute(q), kc, vc, block, c.AttentionDropout);
            }
            var kinds = new List<OpKind>
            {
                new("embedding lookup", 1, () => wte.index_select(0, ids)),
                new($"{(llama ? "RMS norm" : "layer norm")} × {2 * layers + 1}", 2 * layers + 1, () => norm.call(h)),
                new($"q/k/v projection × {layers}", layers,
                    () => projections.Select(p => Autocast.Linear(p, h).sum()).Aggregate((a, b) => a + b)),
            };
            if (llama)
                kinds.Add(new($"rotary positions (q and k) × {layers}", layers, () =>
                    RotaryEmbedding.Apply(Autocast.Compute(q), cos, sin).sum()
                    + RotaryEmbedding.Apply(Autocast.Compute(k), cos, sin).sum()));
            kinds.AddRange(
            [
                new($"attention (causal, as trained) × {layers}", layers, Attend),
                new($"attention out projection × {layers}", layers, () => Autocast.Linear(proj, h)),
                llama
                    ? new($"MLP gate and up (gate_proj, up_proj) × {2 * layers}", 2 * layers, () => Autocast.Linear(up, h))
                    : new($"MLP up (c_fc) × {layers}", layers, () => Autocast.Linear(up, h)),
                llama
                    ? new($"silu(gate) · up × {layers}", layers,
                        () => functional.silu(Autocast.Compute(gate)) * Autocast.Compute(ff))
                    : new($"{c.Activation} × {layers}", layers, () => Mlp.Activate(c.Activation, Autocast.Compute(ff))),
                new($"MLP down ({(llama ? "down_proj" : "c_proj")}) × {layers}", layers, () => Autocast.Linear(down, ff)),
                new(!c.TiedHead ? "LM head (lm_head)" : llama ? "LM head (tied embed_tokens)" : "LM head (tied wte)", 1,
                    () => Autocast.Linear(h, wte)),
                new("cross-entropy over the vocabulary", 1, () => functional.cross_entropy(logits, ids)),
            ]);
            All = kinds;
        }

        public void Dispose()
        {
            foreach (var m in modules) m.Dispose();
        }
    }

    /// <summary>Attention as a training step runs it, with the model's attention dropout (<see cref="ScaledAttention"/>: on CPU a
    /// bf16 region attends unfused in bf16 with dropout or up to its size limit, in fp32 SDPA past it), so the profile times the
    /// path the model takes, not bare SDPA.</summary>
    static Tensor Attention(Tensor q, Tensor k, Tensor v, int block, double dropout) =>
        ScaledAttention.Attend(q, k, v, block, 0, 0, null, dropout, training: true);

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
