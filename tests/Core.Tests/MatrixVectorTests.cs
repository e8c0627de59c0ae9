using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>bf16 products of a few rows without gradients (a cached generation step's Linears) go to Autocast's matrix–vector
/// kernel: the exact product rounded once to bf16, LibTorch's Linear everywhere else, and the helpers' hand-off runs every block
/// once.</summary>
public class MatrixVectorTests
{
    /// <summary>rows × inputs → outputs: one row and four, inputs not a multiple of 32 (the scalar tail), outputs not a multiple
    /// of four (the last group) and enough of them for several parallel blocks.</summary>
    [Theory]
    [InlineData(1, 32, 8, false)]
    [InlineData(1, 40, 130, true)]
    [InlineData(3, 96, 67, true)]
    [InlineData(4, 768, 300, false)]
    [InlineData(1, 64, 5003, true)]
    [InlineData(2, 20, 9, true)]
    public void Few_rows_without_gradients_give_the_exact_product_rounded_once_to_bf16(int rows, int inputs, int outputs, bool withBias)
    {
        manual_seed(11);
        using var scope = NewDisposeScope();
        long[] leading = rows == 4 ? [2, 2] : [rows];   // four rows as [2, 2, inputs]: leading dimensions are kept
        var x = randn([.. leading, inputs]).to(ScalarType.BFloat16);
        // Two rows come transposed (not contiguous) and the weight as a view at an offset into a larger tensor.
        if (rows == 2) x = randn(inputs, rows).to(ScalarType.BFloat16).t();
        var weight = randn(outputs + 3, inputs).to(ScalarType.BFloat16).narrow(0, 3, outputs);
        var bias = withBias ? randn(outputs).to(ScalarType.BFloat16) : null;
        using var region = Autocast.Use(ScalarType.BFloat16);
        using var noGrad = no_grad();
        long before = Autocast.MatrixVectorProducts;
        var y = Autocast.Linear(x, weight, bias);
        // The kernel needs AVX-512; elsewhere LibTorch's Linear serves, to the same bound below.
        Assert.Equal(Vector512.IsHardwareAccelerated ? 1 : 0, Autocast.MatrixVectorProducts - before);
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        Assert.Equal([.. x.shape[..^1], outputs], y.shape);

        // The exact sum in fp64 from the same bf16 operands: ours may differ by one bf16 rounding (2⁻⁸ of the value) plus fp32
        // accumulation (far below it).
        var exact = nn.functional.linear(x.to(ScalarType.Float64), weight.to(ScalarType.Float64), bias?.to(ScalarType.Float64));
        var magnitude = nn.functional.linear(x.to(ScalarType.Float64).abs(), weight.to(ScalarType.Float64).abs(),
            bias?.to(ScalarType.Float64).abs());
        var error = (y.to(ScalarType.Float64) - exact).abs();
        var allowed = exact.abs() * Math.Pow(2, -8) + magnitude * 1e-6;
        Assert.True((error <= allowed).all().item<bool>(), $"largest excess {(error - allowed).max().item<double>()}");
        // And LibTorch's own bf16 Linear agrees within the same rounding.
        var libTorch = nn.functional.linear(x, weight, bias).to(ScalarType.Float64);
        Assert.True(((y.to(ScalarType.Float64) - libTorch).abs() <= allowed * 2).all().item<bool>());
    }

    [Fact]
    public void Gradients_more_rows_or_full_precision_keep_LibTorchs_Linear()
    {
        manual_seed(12);
        using var scope = NewDisposeScope();
        var weight = randn(16, 32).to(ScalarType.BFloat16);
        long before = Autocast.MatrixVectorProducts;
        using (Autocast.Use(ScalarType.BFloat16))
        {
            var tracked = randn(1, 32).to(ScalarType.BFloat16).requires_grad_(true);
            Assert.True(Autocast.Linear(tracked, weight).requires_grad);   // needs a gradient: LibTorch, with its graph
            using (no_grad()) Autocast.Linear(randn(5, 32), weight);        // five rows
        }
        using (no_grad()) Autocast.Linear(randn(1, 32), weight.to(ScalarType.Float32));   // fp32
        Assert.Equal(before, Autocast.MatrixVectorProducts);
    }

    [Fact]
    public void A_cached_bf16_step_runs_its_Linears_through_the_kernel_close_to_recomputing_and_restores_the_thread_count()
    {
        manual_seed(13);
        using var model = new Decoder(Presets.Tiny with { EmbeddingDropout = 0, AttentionDropout = 0, ResidualDropout = 0 });
        model.to(ScalarType.BFloat16);
        model.eval();
        using var region = Autocast.Use(ScalarType.BFloat16);
        int[] prompt = [5, 9, 2, 7, 1];   // five rows: the prompt's pass is LibTorch's
        int original = torch.get_num_threads();
        torch.set_num_threads(2);   // more than one, so that the limit to one shows
        int threads = torch.get_num_threads();
        int mklThreads = ThreadCountProbe.MklThreads();
        var seen = new ThreadCountProbe();
        model.KeyValuePrefix = seen;   // asked once per block and step: it notes LibTorch's thread count inside each step
        long before = Autocast.MatrixVectorProducts;
        var tokens = TokenGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10, Greedy = true }).ToList();
        model.KeyValuePrefix = null;
        bool kernel = Vector512.IsHardwareAccelerated;
        // Nine cached steps × (c_attn, attn.c_proj, c_fc, mlp.c_proj per block + the LM head).
        Assert.Equal(kernel ? 9 * (4 * model.Config.Layers + 1) : 0, Autocast.MatrixVectorProducts - before);
        Assert.Equal(threads, torch.get_num_threads());
        Assert.Equal(mklThreads, ThreadCountProbe.MklThreads());
        // The prompt and the first cached step (before the kernel is known to run) keep every thread; the later ones have one.
        int layers = model.Config.Layers;
        Assert.Equal(10 * layers, seen.Counts.Count);
        Assert.All(seen.Counts.Take(2 * layers), c => Assert.Equal(threads, c));
        Assert.All(seen.Counts.Skip(2 * layers), c => Assert.Equal(kernel ? 1 : threads, c));
        Assert.All(seen.MklCounts.Skip(2 * layers), c => Assert.Equal(kernel ? 1 : mklThreads, c));   // MKL's own, too
        // The limit is the generating thread's own: a thread that starts LibTorch work meanwhile keeps every thread.
        Assert.All(seen.OtherThreadCounts, c => Assert.Equal(threads, c));
        torch.set_num_threads(original);

        // One cached step's logits (kernel) against recomputing the whole sequence (LibTorch's GEMMs), both in bf16.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(prompt.Concat(tokens.Take(1)).Select(t => (long)t).ToArray()).unsqueeze(0);
        using var cache = new KvCache(model.Config.Layers);
        model.Logits(ids.narrow(1, 0, prompt.Length), cache);
        var cached = model.Logits(ids.narrow(1, prompt.Length, 1), cache)[0, -1].to(ScalarType.Float32);
        var recomputed = model.Logits(ids)[0, -1].to(ScalarType.Float32);
        double scale = recomputed.abs().max().item<float>();
        Assert.True((cached - recomputed).abs().max().item<float>() <= 0.02 * scale);
        Assert.Equal(recomputed.argmax().item<long>(), cached.argmax().item<long>());
    }

    sealed class ThreadCountProbe : IKeyValuePrefixProvider
    {
        public List<int> Counts { get; } = [];
        public List<int> MklCounts { get; } = [];
        public List<int> OtherThreadCounts { get; } = [];

        delegate int MaxThreads();

        /// <summary>The threads MKL would use on this thread (its per-thread setting, else its global one).</summary>
        public static int MklThreads() => Marshal.GetDelegateForFunctionPointer<MaxThreads>(
            LibTorchLibrary.Export("MKL_Get_Max_Threads") ?? throw new InvalidOperationException("LibTorch without MKL"))();

        public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batchSize)
        {
            Counts.Add(torch.get_num_threads());
            MklCounts.Add(MklThreads());
            int other = 0;
            var thread = new Thread(() => other = torch.get_num_threads());   // a new thread: LibTorch sets it up now
            thread.Start();
            thread.Join();
            OtherThreadCounts.Add(other);
            return null;
        }
    }

    [Fact]
    public void The_helpers_run_every_block_of_every_call_exactly_once_and_take_blocks_also_after_sleeping()
    {
        var random = new Random(3);
        for (int call = 0; call < 2000; call++)
        {
            int blocks = random.Next(1, 18);
            var runs = new int[blocks];
            SpinningWorkers.Shared.For(blocks, b => Interlocked.Increment(ref runs[b]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
        if (SpinningWorkers.Shared.Threads == 1) return;   // one core: no helpers, the caller runs every block
        for (int round = 0; round < 3; round++)
        {
            Thread.Sleep(20);   // past the helpers' spinning: they sleep, and the next call must wake one
            // A hand-shake, not a timing bet: whichever thread takes one block waits (up to 10 s) for the other block to start,
            // which only another thread can do.
            var threadOf = new int[2];
            using var bothStarted = new CountdownEvent(2);
            SpinningWorkers.Shared.For(2, b =>
            {
                threadOf[b] = Environment.CurrentManagedThreadId;
                bothStarted.Signal();
                bothStarted.Wait(TimeSpan.FromSeconds(10));
            });
            Assert.NotEqual(threadOf[0], threadOf[1]);
        }
    }

    [Fact]
    public void Calls_from_two_threads_at_once_each_run_all_their_blocks_and_a_failing_block_surfaces()
    {
        var failures = new int[2];
        Parallel.For(0, 2, t =>
        {
            for (int call = 0; call < 500; call++)
            {
                var runs = new int[9];
                SpinningWorkers.Shared.For(9, b => Interlocked.Increment(ref runs[b]));
                if (runs.Any(r => r != 1)) failures[t]++;
            }
        });
        Assert.Equal([0, 0], failures);

        var thrown = Assert.Throws<AggregateException>(() =>
            SpinningWorkers.Shared.For(6, b => { if (b == 4) throw new InvalidOperationException("block 4"); }));
        Assert.Equal("block 4", thrown.InnerException!.Message);
        var after = new int[6];
        SpinningWorkers.Shared.For(6, b => Interlocked.Increment(ref after[b]));
        Assert.All(after, r => Assert.Equal(1, r));
    }
}
