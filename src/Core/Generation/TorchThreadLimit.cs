using System.Runtime.InteropServices;
using TorchSharp;

namespace PluginGpt.Core.Generation;

/// <summary>This thread's LibTorch intra-op threads limited to a count until disposed, then its previous count again; other
/// threads keep theirs. Set through OpenMP's and MKL's per-thread settings, not LibTorch's <c>set_num_threads</c>: that one also
/// writes a process-wide count that every thread starting LibTorch work meanwhile adopts for good (a test saw 16 of 20 such
/// threads set to one), and switches MKL's dynamic threading off — so a generation step could change how a concurrent training
/// run's work was split across threads. Where those settings cannot be reached (no OpenMP in LibTorch's build) nothing is
/// limited.</summary>
sealed class TorchThreadLimit : IDisposable
{
    delegate void OpenMpSetThreads(int threads);
    delegate int MklSetLocalThreads(int threads);

    /// <summary>OpenMP's per-thread setter (libgomp, a dependency of libtorch_cpu.so) and MKL's (linked into it), or null.</summary>
    static readonly Lazy<(OpenMpSetThreads OpenMp, MklSetLocalThreads? Mkl)?> setters = new(() =>
    {
        try
        {
            _ = torch.get_num_threads();   // loads LibTorch if nothing has yet
            if (LibTorchLibrary.Export("omp_set_num_threads") is not { } openMp) return null;
            var mkl = LibTorchLibrary.Export("MKL_Set_Num_Threads_Local");   // C's; the lower-case export is Fortran's (a pointer)
            return (Marshal.GetDelegateForFunctionPointer<OpenMpSetThreads>(openMp),
                mkl is { } m ? Marshal.GetDelegateForFunctionPointer<MklSetLocalThreads>(m) : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return null;   // no /proc/self/maps or no such export: a speed-up missed, nothing more
        }
    });

    readonly int previous;
    readonly int? previousMkl;
    readonly bool limited;
    readonly int thread = Environment.CurrentManagedThreadId;

    TorchThreadLimit(int threads)
    {
        // First: LibTorch sets up a thread's count at its first parallel work, which would undo a limit set before.
        previous = torch.get_num_threads();
        if (threads >= previous || setters.Value is not var (openMp, mkl)) return;
        openMp(threads);
        previousMkl = mkl?.Invoke(threads);   // MKL's previous per-thread count (0: none, its global one applies)
        limited = true;
    }

    /// <summary>At most <paramref name="threads"/> LibTorch threads on this thread (fewer stay as they are). Dispose it on the
    /// same thread: the settings are that thread's.</summary>
    public static TorchThreadLimit To(int threads) => new(threads);

    public void Dispose()
    {
        // Another thread's settings are not this limit's to restore (a generation step enters and leaves on one thread).
        if (!limited || thread != Environment.CurrentManagedThreadId || setters.Value is not var (openMp, mkl)) return;
        openMp(previous);
        if (previousMkl is { } count) mkl?.Invoke(count);
    }
}
