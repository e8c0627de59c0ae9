using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training;

/// <summary>
/// A language-model training batch split by rows across the CPU's cores: each shard's forward and backward on its own thread
/// with its share of LibTorch's threads (one each on two cores), the gradients summed into the weights' <c>.grad</c>.
/// LibTorch splits every op of one pass across its OpenMP threads instead, and between ops its second thread waits for the
/// first to dispatch the next one (P/Invoke, LibTorch's dispatcher and autograd, allocation): `perf` of a `small` bf16 step
/// on a 2-core Zen 5 EPYC had that thread idle for 24 % of its samples. Two shards of 8 sequences on one thread each trained
/// at 1.134× [1.046–1.203] the tokens/s of 16 sequences on two threads (8 rounds alternating; README, Performance).
/// The loss is the batch's: each shard back-propagates its summed loss over the whole batch's target count. Gradients are
/// the same bits every run for a given number of shards: the first two shards add into gradients that are zero or absent
/// (a + b is b + a, whichever lands first); later shards, and every shard but the first when the gradients already hold a sum
/// (accumulation), take theirs with <c>autograd.grad</c> and are added in shard order. Only a step that draws no random numbers
/// is split (no dropout, no gradient checkpointing) and only a decoder with no method attached (a method's code is not known
/// to be thread-safe). The number of shards depends on the machine (<see cref="Count"/>), so a run resumed elsewhere may add
/// its gradients in another order.
/// </summary>
public static class BatchShards
{
    /// <summary>Set to a number of shards (1: never split). Unset, a batch is split only where that was measured: as many shards
    /// as LibTorch has threads, when it has two.</summary>
    public const string Variable = "PLUGINGPT_BATCH_SHARDS";

    /// <summary>Tokens a shard takes at least: its GEMMs' rows (fewer run far below the CPU's rate, as the fused loss's chunks).
    /// </summary>
    public const long MinTokensPerShard = 512;

    /// <summary>Shards by default: measured on 2-core machines only (each shard past the second also holds a copy of the
    /// gradients until the batch ends).</summary>
    const int MeasuredShards = 2;

    /// <summary>How many shards a training batch of [<paramref name="rows"/>, <paramref name="tokensPerRow"/>] takes on
    /// <paramref name="model"/> now (1: the batch runs whole).</summary>
    public static int Count(Decoder model, long rows, long tokensPerRow)
    {
        if (model.Device.type != DeviceType.CPU || !DrawsNothingRandom(model) || !OnlyOwnModules(model)) return 1;
        long byTokens = rows * tokensPerRow / MinTokensPerShard;
        return (int)Math.Max(1, Math.Min(MostShards(), Math.Min(rows, byTokens)));
    }

    /// <summary><see cref="Variable"/>'s number; else LibTorch's threads when they are <see cref="MeasuredShards"/>, else 1.
    /// </summary>
    static int MostShards()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable(Variable), out var asked) && asked > 0) return asked;
        return torch.get_num_threads() == MeasuredShards ? MeasuredShards : 1;
    }

    /// <summary>What <c>doctor</c> says: how a pre-training batch is split here.</summary>
    public static string Describe()
    {
        string asked = Environment.GetEnvironmentVariable(Variable) is { } v ? $" ({Variable}={v})" : "";
        int threads = torch.get_num_threads();
        return MostShards() is var most && most <= 1
            ? $"whole, LibTorch's {threads} thread(s) on each op{asked}" + (asked == "" ? $" (set {Variable} to split)" : "")
            : $"split by rows into up to {most} shards of {MinTokensPerShard}+ tokens, {Math.Max(1, threads / most)} LibTorch " +
                $"thread(s) each (no dropout, no method attached){asked}";
    }

    /// <summary>No dropout anywhere and no gradient checkpointing (which replays the generator's state): a shard draws no
    /// random numbers, whose order between threads would change from run to run.</summary>
    internal static bool DrawsNothingRandom(Decoder model)
    {
        var c = model.Config;
        if (c.EmbeddingDropout > 0 || c.AttentionDropout > 0 || c.ResidualDropout > 0 || model.GradientCheckpointing) return false;
        return model.named_modules().All(m => m.module switch
        {
            FastDropoutLayer layer => layer.P == 0,
            var other => !other.GetType().Name.Contains("Dropout", StringComparison.Ordinal),
        });
    }

    /// <summary>No method attached: no hooks, no attached modules, and only the core's, the SDK's and TorchSharp's module types
    /// (a method's own code is not known to be thread-safe).</summary>
    internal static bool OnlyOwnModules(Decoder model)
    {
        if (model.InputEmbeddingHook is not null || model.KeyValuePrefix is not null || model.BlockOutputHook is not null) return false;
        if (model.AttachedModules.Count > 0) return false;
        System.Reflection.Assembly[] ours = [typeof(Decoder).Assembly, typeof(Autocast).Assembly, typeof(torch).Assembly];
        return model.named_modules().All(m => ours.Contains(m.module.GetType().Assembly));
    }

    /// <summary>The language-model loss of <paramref name="inputs"/> against <paramref name="targets"/> (-1 ignored), divided
    /// by <paramref name="accumulation"/>, back-propagated into the weights' gradients, each weight cast once per shard
    /// (<see cref="Autocast.CacheCasts"/>) in the caller's autocast type; returns the batch's mean loss (undivided).
    /// <paramref name="gradientsZero"/>: the gradients are zero or absent (a step's first micro-batch).</summary>
    public static double LanguageModelBackward(Decoder model, Tensor inputs, Tensor targets, int accumulation = 1,
        bool gradientsZero = true) =>
        LanguageModelBackward(model, inputs, targets, accumulation, gradientsZero, Count(model, inputs.shape[0], inputs.shape[1]));

    /// <summary>The same in <paramref name="shards"/> shards (tests choose it).</summary>
    internal static double LanguageModelBackward(Decoder model, Tensor inputs, Tensor targets, int accumulation, bool gradientsZero,
        int shards)
    {
        if (shards == 1) return TrainingStep.BackwardOnce(() => model.LanguageModelLoss(inputs, targets), accumulation);
        long rows = inputs.shape[0], count;
        using (torch.NewDisposeScope()) count = targets.ge(0).sum().item<long>();
        var type = Autocast.ComputeType;
        var weights = model.DistinctParameters().Select(p => p.Parameter).Where(p => p.requires_grad).ToList();
        IList<Tensor> differentiated = [.. weights];
        var sums = new double[shards];
        var late = new Tensor[]?[shards];
        try
        {
            ShardThreads.Run(shards, Math.Max(1, torch.get_num_threads() / shards), shard =>
            {
                long start = rows * shard / shards, length = rows * (shard + 1) / shards - start;
                using var scope = torch.NewDisposeScope();
                using var region = Autocast.Use(type);
                using var casts = Autocast.CacheCasts();
                var (sum, _) = model.LanguageModelLossSum(model.Forward(inputs.narrow(0, start, length)),
                    targets.narrow(0, start, length));
                var scaled = sum / ((double)count * accumulation);
                if (shard == 0 || (shard == 1 && gradientsZero)) scaled.backward();
                else late[shard] = [.. torch.autograd.grad([scaled], differentiated).Select(g => g.DetachFromDisposeScope())];
                sums[shard] = Autocast.Float(sum).item<float>();
            });
            AddInOrder(weights, late);
        }
        finally
        {
            foreach (var g in late.SelectMany(grads => grads ?? [])) g.Dispose();   // a failed batch's too
        }
        return sums.Sum() / count;
    }

    /// <summary>Adds the gradients the later shards returned, shard by shard, into the weights' own.</summary>
    static void AddInOrder(List<TorchSharp.Modules.Parameter> weights, Tensor[]?[] late)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var grads in late)
        {
            if (grads is null) continue;
            for (int i = 0; i < weights.Count; i++)
            {
                var g = grads[i];
                if (weights[i].grad is { } held) held.add_(g);
                else weights[i].grad = g.clone();
            }
        }
    }
}
