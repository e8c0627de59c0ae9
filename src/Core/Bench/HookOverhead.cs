using System.Diagnostics;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Bench;

/// <summary>
/// What the hook points cost when present but empty: a training step of the bare model against the same model with an
/// identity wrapper on every Linear (hook point 1) and on every sub-layer (what replaced hook point 4), an input hook adding no
/// token (2) and a prefix provider giving no prefix (3). Rounds interleave the two so drift hits both alike.
/// </summary>
public static class HookOverhead
{
    public sealed record Result(double AbsentStepSeconds, double PresentStepSeconds)
    {
        public double Overhead => PresentStepSeconds / AbsentStepSeconds - 1;
    }

    public static Result Run(GptConfig config, int batch, int block, Device device, PrecisionChoice precision, int rounds = 7)
    {
        using var region = Autocast.Use(precision.ComputeType);
        torch.manual_seed(0);
        using var model = new Decoder(config);
        model.to(device);
        var tensors = TrainableTensor.Defaults(model.named_parameters());
        using var optimizer = new OptimizerStep(tensors, new LearningRateSchedule(1e-5, 1e-5, 0, 1000), 0.1, gradClip: 1.0);
        var (absent, present) = (new List<double>(), new List<double>());
        int step = 0;
        double Step()
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randint(0, config.Vocab, [batch, block], device: device);
            var w = Stopwatch.StartNew();
            var loss = model.LanguageModelLoss(x, x);
            loss.backward();
            optimizer.Step(step++);
            loss.item<float>();
            return w.Elapsed.TotalSeconds;
        }
        Step(); Step();   // optimizer state, allocator
        for (int round = 0; round < rounds; round++)
        {
            absent.Add(Step());
            var linears = ModuleWrapper.WrapAll(model, model.LinearPaths(), (_, inner) => new IdentityLinear(inner));
            var sublayers = ModuleWrapper.WrapAll(model, model.ModulePaths().Except(model.LinearPaths()),
                (_, inner) => new IdentitySubLayer(inner));
            var empty = new EmptyHooks();
            (model.InputEmbeddingHook, model.KeyValuePrefix) = (empty, empty);
            present.Add(Step());
            (model.InputEmbeddingHook, model.KeyValuePrefix) = (null, null);
            ModuleWrapper.UnwrapAll(model, sublayers);
            ModuleWrapper.UnwrapAll(model, linears);
        }
        return new Result(absent.Order().ElementAt(rounds / 2), present.Order().ElementAt(rounds / 2));
    }

    sealed class IdentityLinear : LinearWrapper
    {
        public IdentityLinear(nn.Module<Tensor, Tensor> inner) : base(nameof(IdentityLinear), inner) => RegisterComponents();
        public override Tensor forward(Tensor x) => BaseForward(x);
    }

    sealed class IdentitySubLayer : ModuleWrapper
    {
        public IdentitySubLayer(nn.Module<Tensor, Tensor> inner) : base(nameof(IdentitySubLayer), inner) => RegisterComponents();
        public override Tensor forward(Tensor x) => WrappedForward(x);
    }

    sealed class EmptyHooks : IInputEmbeddingHook, IKeyValuePrefixProvider
    {
        public int VirtualTokens => 0;
        public Tensor Apply(Tensor tokenEmbeddings, Tensor inputIds) => tokenEmbeddings;
        public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batchSize) => null;
    }
}
