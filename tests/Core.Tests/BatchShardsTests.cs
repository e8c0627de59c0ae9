using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>A language-model batch split across threads (<see cref="BatchShards"/>) gives the whole batch's loss and gradients,
/// the same bits every time, on threads of their own with one LibTorch thread each; only plain decoders whose step draws no
/// random numbers are split.</summary>
public class BatchShardsTests
{
    static (Decoder Model, Tensor Ids, Tensor Targets) Setup(GptConfig config, long rows = 6, long tokens = 12)
    {
        torch.manual_seed(5);
        var model = new Decoder(config);
        model.train();
        var ids = torch.randint(0, config.Vocab, [rows, tokens]);
        var targets = torch.randint(0, config.Vocab, [rows, tokens]);
        targets[1, 4] = torch.tensor(-1L);   // ignored: the shards' losses are over the whole batch's count
        targets[4, 0] = torch.tensor(-1L);
        return (model, ids, targets);
    }

    static List<Tensor> Gradients(Decoder model) =>
        [.. model.DistinctParameters().Select(p => p.Parameter.grad!.clone())];

    static (double Loss, List<Tensor> Grads) Backward(Decoder model, Tensor ids, Tensor targets, int shards, int accumulation = 1,
        bool gradientsZero = true)
    {
        double loss = BatchShards.LanguageModelBackward(model, ids, targets, accumulation, gradientsZero, shards);
        return (loss, Gradients(model));
    }

    [Theory]
    [InlineData("gpt2", 2)]
    [InlineData("gpt2", 3)]
    [InlineData("llama", 2)]
    public void Shards_give_the_whole_batchs_loss_and_gradients(string family, int shards)
    {
        var (model, ids, targets) = Setup(family == "gpt2" ? Presets.Tiny : Presets.LlamaTiny);
        using var _ = model;
        var (whole, expected) = Backward(model, ids, targets, 1);
        model.zero_grad();
        var (split, grads) = Backward(model, ids, targets, shards);
        Assert.Equal(whole, split, 5);
        foreach (var (g, e) in grads.Zip(expected))
            Assert.True(g.allclose(e, rtol: 1e-4, atol: 1e-6), $"max |Δ| {(g - e).abs().max().item<float>()}");
    }

    [Fact]
    public void Shards_compute_in_the_callers_autocast_type()
    {
        var (model, ids, targets) = Setup(Presets.Tiny);
        using var _ = model;
        double Loss(ScalarType? type, int shards)
        {
            using var region = Autocast.Use(type);
            model.zero_grad();
            return Backward(model, ids, targets, shards).Loss;
        }
        double fp32 = Loss(null, 1), bf16 = Loss(ScalarType.BFloat16, 1), split = Loss(ScalarType.BFloat16, 2);
        // Rows are rows in either split: bf16 shards give bf16's loss up to summation order, far closer than fp32's.
        Assert.True(Math.Abs(split - bf16) < 0.1 * Math.Abs(fp32 - bf16), $"fp32 {fp32}, bf16 {bf16}, bf16 in shards {split}");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Shards_add_to_gradients_already_held_as_accumulation_does(int shards)
    {
        var (model, ids, targets) = Setup(Presets.Tiny);
        using var _ = model;
        Backward(model, ids, targets, 1, accumulation: 2);
        var (_, expected) = Backward(model, ids, targets, 1, accumulation: 2, gradientsZero: false);
        model.zero_grad();
        Backward(model, ids, targets, 1, accumulation: 2);
        var (_, grads) = Backward(model, ids, targets, shards, accumulation: 2, gradientsZero: false);
        foreach (var (g, e) in grads.Zip(expected))
            Assert.True(g.allclose(e, rtol: 1e-4, atol: 1e-6), $"max |Δ| {(g - e).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(2, false)]
    public void Shards_give_the_same_bits_every_time(int shards, bool gradientsZero)
    {
        var (model, ids, targets) = Setup(Presets.Tiny, rows: 12, tokens: 48);   // long enough for backward passes to overlap
        using var _ = model;
        List<Tensor>? first = null;
        for (int run = 0; run < 6; run++)
        {
            model.zero_grad();
            if (!gradientsZero) Backward(model, ids, targets, 1);   // a sum already held: later shards are added in order
            var (_, grads) = Backward(model, ids, targets, shards, gradientsZero: gradientsZero);
            if (first is null) first = grads;
            else foreach (var (g, f) in grads.Zip(first)) Assert.True(g.eq(f).all().item<bool>());
        }
    }

    [Theory]
    [InlineData(2)]   // a shard a thread: LibTorch's OpenMP team on a 2-core machine
    [InlineData(3)]   // more shards than threads: background threads
    public void Shards_run_at_once_on_threads_of_their_own_with_one_libtorch_thread_each(int shards)
    {
        int before = torch.get_num_threads();
        var seen = new (int Thread, int TorchThreads, string? Name)[shards];
        using var met = new CountdownEvent(shards);
        ShardThreads.Run(shards, 1, shard =>
        {
            seen[shard] = (Environment.CurrentManagedThreadId, torch.get_num_threads(), Thread.CurrentThread.Name);
            met.Signal();
            Assert.True(met.Wait(TimeSpan.FromSeconds(30)), "the shards did not all run at the same time");
        });
        Assert.Equal(shards, seen.Select(s => s.Thread).Distinct().Count());
        Assert.Contains(seen, s => s.Thread == Environment.CurrentManagedThreadId);   // the caller runs one
        Assert.All(seen, s => Assert.Equal(1, s.TorchThreads));
        bool team = shards == before && OpenMpTeam.Available;   // else the background threads, named
        Assert.Equal(team ? 0 : shards - 1, seen.Count(s => s.Name?.StartsWith("plugingpt shard") == true));
        Assert.Equal(before, torch.get_num_threads());   // the caller's count is back for the optimizer
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_failing_shard_surfaces_once_every_shard_has_ended(int shards)
    {
        bool slowShardEnded = false;
        var e = Assert.Throws<InvalidOperationException>(() => ShardThreads.Run(shards, 1, shard =>
        {
            if (shard == 1) throw new InvalidOperationException("shard 1 failed");
            Thread.Sleep(200);
            if (shard == 0) slowShardEnded = true;
        }));
        Assert.Equal("shard 1 failed", e.Message);
        Assert.True(slowShardEnded);
        ShardThreads.Run(shards, 1, _ => { });   // the threads serve the next batch
    }

    [Fact]
    public void Batches_split_where_measured_or_asked()
    {
        using var plain = new Decoder(Presets.Small);
        int expected = torch.get_num_threads() == 2 ? 2 : 1;   // measured on two threads only
        Assert.Equal(expected, BatchShards.Count(plain, 16, 128));
        Assert.Equal(1, BatchShards.Count(plain, 16, 16));   // 256 tokens: too few for two shards' GEMMs
        string? before = Environment.GetEnvironmentVariable(BatchShards.Variable);
        try
        {
            Environment.SetEnvironmentVariable(BatchShards.Variable, "3");
            Assert.Equal(3, BatchShards.Count(plain, 16, 128));
            Assert.Equal(2, BatchShards.Count(plain, 2, 1024));   // never more shards than rows
            Environment.SetEnvironmentVariable(BatchShards.Variable, "1");
            Assert.Equal(1, BatchShards.Count(plain, 16, 128));
        }
        finally
        {
            Environment.SetEnvironmentVariable(BatchShards.Variable, before);
        }
    }

    [Fact]
    public void Only_steps_that_draw_nothing_random_are_split()
    {
        using var plain = new Decoder(Presets.Small);
        Assert.True(BatchShards.DrawsNothingRandom(plain));
        plain.GradientCheckpointing = true;   // it replays the generator's state
        Assert.False(BatchShards.DrawsNothingRandom(plain));
        foreach (var config in new[] { Presets.Small with { EmbeddingDropout = 0.1 }, Presets.Small with { AttentionDropout = 0.1 },
                     Presets.Small with { ResidualDropout = 0.1 } })
        {
            using var dropout = new Decoder(config);
            Assert.False(BatchShards.DrawsNothingRandom(dropout));
        }
        using var replaced = new Decoder(Presets.Small);   // a dropout put in by a method, in TorchSharp's own modules
        replaced.ReplaceModule("h.0.attn.c_proj", inner => nn.Sequential(("inner", inner), ("drop", nn.Dropout(0.1))));
        Assert.False(BatchShards.DrawsNothingRandom(replaced));
    }

    [Fact]
    public void Only_decoders_with_no_method_attached_are_split()
    {
        using var plain = new Decoder(Presets.Small);
        Assert.True(BatchShards.OnlyOwnModules(plain));
        using var hooked = new Decoder(Presets.Small) { InputEmbeddingHook = new NoHook() };
        Assert.False(BatchShards.OnlyOwnModules(hooked));
        using var attached = new Decoder(Presets.Small);
        attached.AttachModule("own", nn.Linear(4, 4));   // even a TorchSharp module: a method's
        Assert.False(BatchShards.OnlyOwnModules(attached));
        using var wrapped = new Decoder(Presets.Small);
        wrapped.ReplaceModule("h.1.mlp.c_fc", inner => new ForeignModule(inner));   // a method's code
        Assert.False(BatchShards.OnlyOwnModules(wrapped));
        Assert.Equal(1, BatchShards.Count(wrapped, 16, 128));
    }

    sealed class NoHook : IInputEmbeddingHook
    {
        public int VirtualTokens => 0;
        public Tensor Apply(Tensor embeddings, Tensor inputIds) => embeddings;
    }

    sealed class ForeignModule : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> inner;

        public ForeignModule(nn.Module<Tensor, Tensor> inner) : base("foreign")
        {
            this.inner = inner;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => inner.call(x);
    }
}
