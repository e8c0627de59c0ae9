using TorchSharp;

namespace PluginGpt.Core.Generation;

/// <summary>LibTorch's intra-op threads limited to a count until disposed, then the previous count again. The setting is partly
/// process-wide (LibTorch keeps a global count beside OpenMP's per-thread one): meant for a step that is the process's only
/// LibTorch work, as a generation step is.</summary>
sealed class TorchThreadLimit : IDisposable
{
    readonly int previous;

    TorchThreadLimit(int threads)
    {
        previous = torch.get_num_threads();
        if (threads < previous) torch.set_num_threads(threads);
    }

    /// <summary>At most <paramref name="threads"/> LibTorch threads (fewer stay as they are).</summary>
    public static TorchThreadLimit To(int threads) => new(threads);

    public void Dispose()
    {
        if (torch.get_num_threads() != previous) torch.set_num_threads(previous);
    }
}
