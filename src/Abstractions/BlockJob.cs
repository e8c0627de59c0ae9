namespace PluginGpt.Abstractions;

/// <summary>One call's blocks of work, claimed one at a time by whichever threads run it (<see cref="SpinningWorkers"/>,
/// <see cref="OpenMpTeam"/>): its own counters, so a thread that arrives late at a finished call claims nothing of the next. A block
/// that throws does not stop the others; the first failure is kept for the caller.</summary>
sealed class BlockJob(Action<int> work, int blocks)
{
    readonly int count = blocks;
    int next, unfinished = blocks;
    Exception? failure;

    internal bool Done => Volatile.Read(ref unfinished) == 0;
    internal Exception? Failure => failure;

    /// <summary>Runs blocks until none is left to claim.</summary>
    internal void Run()
    {
        for (int b = Interlocked.Increment(ref next) - 1; b < count; b = Interlocked.Increment(ref next) - 1)
        {
            try { work(b); }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            Interlocked.Decrement(ref unfinished);
        }
    }
}
