using System.Diagnostics;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Bench;

/// <summary>
/// What the four hook points cost when present but empty: a training step of the bare model against the same model with an
/// identity wrapper on every Linear (hook point 1), an input hook adding no token (2), a prefix provider giving no prefix (3)
/// and a block-output hook returning its input (4). Rounds interleave the two so drift hits both alike.
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
            var wrapped = LinearWrapper.WrapAll(model, model.LinearPaths(), (_, inner) => new IdentityWrapper(inner));
            var empty = new EmptyHooks();
            (model.InputEmbeddingHook, model.KeyValuePrefix, model.BlockOutputHook) = (empty, empty, empty);
            present.Add(Step());
            (model.InputEmbeddingHook, model.KeyValuePrefix, model.BlockOutputHook) = (null, null, null);
            LinearWrapper.UnwrapAll(model, wrapped);
        }
        return new Result(absent.Order().ElementAt(rounds / 2), present.Order().ElementAt(rounds / 2));
    }

    sealed class IdentityWrapper : LinearWrapper
    {
        public IdentityWrapper(nn.Module<Tensor, Tensor> inner) : base(nameof(IdentityWrapper), inner) => RegisterComponents();
        public override Tensor forward(Tensor x) => BaseForward(x);
    }

    sealed class EmptyHooks : IInputEmbeddingHook, IKeyValuePrefixProvider, IBlockOutputHook
    {
        public int VirtualTokens => 0;
        public Tensor Apply(Tensor tokenEmbeddings, Tensor inputIds) => tokenEmbeddings;
        public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batchSize) => null;
        public Tensor AfterAttention(int layer, Tensor output) => output;
        public Tensor AfterMlp(int layer, Tensor output) => output;
    }
}
