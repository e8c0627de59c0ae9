using System.Runtime.InteropServices;
using TorchSharp;

namespace PluginGpt.Core.Tests;

/// <summary>The hand-written kernels' blocks (the loss's row pass, dropout masks) run on LibTorch's own OpenMP threads: every
/// block of every call once, the calling thread and LibTorch's OpenMP worker at once, failures surfacing.</summary>
public class OpenMpTeamTests
{
    delegate int ThreadNumber();

    [Fact]
    public void On_Linux_every_block_runs_once_on_the_caller_and_LibTorchs_OpenMP_worker_at_once()
    {
        Assert.Equal(OperatingSystem.IsLinux(), OpenMpTeam.Available);   // LibTorch's Linux build links libgomp
        var random = new Random(5);
        for (int call = 0; call < 500; call++)
        {
            int blocks = random.Next(0, 40);
            var runs = new int[blocks];
            OpenMpTeam.For(blocks, b => Interlocked.Increment(ref runs[b]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
        if (!OpenMpTeam.Available || torch.get_num_threads() < 2) return;   // one thread: the caller runs every block

        // A hand-shake, not a timing bet: whichever thread takes one block waits (up to 10 s) for the other block to start, which
        // only another thread can do; OpenMP numbers its team's threads 0 (the caller) and 1 (its worker).
        var openMpThread = Marshal.GetDelegateForFunctionPointer<ThreadNumber>(
            LibTorchLibrary.Export("omp_get_thread_num") ?? throw new InvalidOperationException("libgomp without omp_get_thread_num"));
        var (managedThread, openMpNumber, pooled) = (new int[2], new int[2], new bool[2]);
        using var bothStarted = new CountdownEvent(2);
        OpenMpTeam.For(2, b =>
        {
            (managedThread[b], openMpNumber[b], pooled[b]) =
                (Environment.CurrentManagedThreadId, openMpThread(), Thread.CurrentThread.IsThreadPoolThread);
            bothStarted.Signal();
            bothStarted.Wait(TimeSpan.FromSeconds(10));
        });
        Assert.NotEqual(managedThread[0], managedThread[1]);
        int caller = Array.IndexOf(managedThread, Environment.CurrentManagedThreadId);
        Assert.InRange(caller, 0, 1);
        Assert.Equal([0, 1], openMpNumber.Order());
        Assert.False(pooled[1 - caller]);   // the other is LibTorch's worker, not one of .NET's pool
    }

    [Fact]
    public void A_failing_block_surfaces_after_the_others_ran_and_the_next_call_runs_all_its_blocks()
    {
        var runs = new int[6];
        var thrown = Assert.Throws<AggregateException>(() => OpenMpTeam.For(6, b =>
        {
            Interlocked.Increment(ref runs[b]);
            if (b == 4) throw new InvalidOperationException("block 4");
        }));
        Assert.Equal("block 4", thrown.InnerException!.Message);
        Assert.All(runs, r => Assert.Equal(1, r));
        var after = new int[6];
        OpenMpTeam.For(6, b => Interlocked.Increment(ref after[b]));
        Assert.All(after, r => Assert.Equal(1, r));
    }
}
