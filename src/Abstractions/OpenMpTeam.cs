using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace PluginGpt.Abstractions;

/// <summary>
/// Runs .NET work in blocks on LibTorch's own OpenMP threads (the calling thread and its team), through libgomp's
/// <c>GOMP_parallel</c>, the entry point a <c>#pragma omp parallel</c> compiles to. After each of its ops LibTorch's OpenMP
/// workers keep spinning for the next one, holding their cores: work handed to .NET's thread pool meanwhile found no free core and
/// mostly ran on the calling thread (perf of a `small` bf16 step, 2-core Zen 5: the fused loss's row pass, 2.5 ms a step, ran
/// while the OpenMP worker spun). Here the spinning worker takes the blocks itself, at once. Where libgomp is not LibTorch's
/// runtime (Windows, macOS) or cannot be found, or <c>PLUGINGPT_OPENMP_TEAM=0</c> is set,
/// <see cref="Parallel.For(int, int, Action{int})"/> serves.
/// Written by hand: no library runs .NET code on another runtime's OpenMP team.
/// </summary>
public static unsafe class OpenMpTeam
{
    static readonly Lazy<nint> parallel = new(FindParallelEntry);
    static readonly Lazy<nint> inParallel = new(() => parallel.Value == 0 ? 0 : LibTorchLibrary.Export("omp_in_parallel") ?? 0);

    /// <summary>Whether this thread runs inside an OpenMP parallel region (a block of an outer call): a nested region would make
    /// libgomp set up a team for every call.</summary>
    static bool InParallelRegion() =>
        inParallel.Value != 0 && ((delegate* unmanaged[Cdecl]<int>)inParallel.Value)() != 0;

    /// <summary>Whether blocks run on LibTorch's OpenMP threads (else on .NET's thread pool).</summary>
    public static bool Available => parallel.Value != 0;

    /// <summary>work(0 … blocks − 1), each once, on LibTorch's OpenMP threads (its whole team, <c>torch.get_num_threads()</c>
    /// threads, the caller among them: a smaller team would make libgomp end the pool's other threads, which LibTorch's next op
    /// then starts again); returns when all have run. A block that throws does not stop the others; the first failure is thrown
    /// (in an <see cref="AggregateException"/>) once all have run. Blocks must not wait on each other: a team may be one thread.
    /// On the OpenMP threads a block sees none of the caller's <see cref="AsyncLocal{T}"/>s, thread statics or dispose scopes,
    /// and LibTorch ops it calls run on one thread; called from inside a block, it runs the blocks on the calling thread.
    /// </summary>
    public static void For(int blocks, Action<int> work)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        if (blocks == 0) return;
        int threads = torch.get_num_threads();
        var job = new BlockJob(work, blocks);
        if (threads <= 1 || blocks == 1 || InParallelRegion()) job.Run();
        else if (parallel.Value == 0) Parallel.For(0, Math.Min(blocks, threads), _ => job.Run());
        else
        {
            var handle = GCHandle.Alloc(job);
            try
            {
                var run = (delegate* unmanaged[Cdecl]<delegate* unmanaged[Cdecl]<nint, void>, nint, uint, uint, void>)parallel.Value;
                run(&RunBlocks, GCHandle.ToIntPtr(handle), (uint)threads, 0);
            }
            finally { handle.Free(); }
        }
        if (job.Failure is not null) throw new AggregateException(job.Failure);
    }

    /// <summary>The environment variable that turns the team off (<c>0</c>): .NET's thread pool runs the blocks.</summary>
    public const string SwitchVariable = "PLUGINGPT_OPENMP_TEAM";

    /// <summary>What each thread of the team runs: blocks until none is left. Nothing may escape into libgomp's frames
    /// (<see cref="BlockJob.Run"/> catches each block's exceptions).</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    static void RunBlocks(nint job) => ((BlockJob)GCHandle.FromIntPtr(job).Target!).Run();

    /// <summary>libgomp's <c>GOMP_parallel</c> as libtorch_cpu.so links it (LibTorch's own OpenMP runtime); 0 where there is
    /// none (not Linux, LibTorch not loaded, or built with another OpenMP) or the switch turns the team off.</summary>
    static nint FindParallelEntry()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(SwitchVariable) == "0") return 0;
        _ = torch.get_num_threads();   // loads LibTorch if nothing has yet
        return LibTorchLibrary.Export("GOMP_parallel") ?? 0;
    }
}
