namespace PluginGpt.Abstractions;

/// <summary>
/// Runs a call's blocks of work on the calling thread and on a helper thread per other core (up to 7), helpers that keep spinning for a
/// while after a call ends. A generated token makes ~50 matrix–vector products of 0.05–3 ms each, with LibTorch's small ops
/// between them: handing each to .NET's thread pool woke a sleeping pool thread every time (≈ 0.1 ms a call, a third of the
/// products' time on a 2-core Xeon). The pool offers no way to keep its threads awake, hence these few lines.
/// One call at a time: a call made while another runs goes to <see cref="Parallel.For(int, int, Action{int})"/>.
/// </summary>
sealed class SpinningWorkers
{
    /// <summary>How long a helper spins for the next call before it sleeps.</summary>
    static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500;   // 2 ms

    /// <summary>Helpers at most: a matrix–vector product is bound by memory, which a few cores saturate; more would only spin.
    /// </summary>
    const int MaxHelpers = 7;

    internal static readonly SpinningWorkers Shared = new(Math.Min(MaxHelpers, Environment.ProcessorCount - 1));

    readonly object gate = new();
    readonly SemaphoreSlim wake = new(0);
    readonly int helpers;
    bool started;
    BlockJob? current;
    long calls;
    int sleeping;

    SpinningWorkers(int helpers) => this.helpers = Math.Max(0, helpers);

    /// <summary>Threads a call's blocks run on: the caller and the helpers.</summary>
    internal int Threads => helpers + 1;

    /// <summary>work(0 … blocks − 1), each once, on this thread and the helpers; returns when all have run.</summary>
    internal void For(int blocks, Action<int> work)
    {
        if (helpers == 0 || blocks == 1) { for (int b = 0; b < blocks; b++) work(b); return; }
        if (!Monitor.TryEnter(gate)) { Parallel.For(0, blocks, work); return; }
        try
        {
            StartHelpers();
            var job = new BlockJob(work, blocks);
            Volatile.Write(ref current, job);
            Interlocked.Increment(ref calls);   // spinning helpers see the call
            int asleep = Interlocked.Exchange(ref sleeping, 0);
            if (asleep > 0) wake.Release(asleep);
            job.Run();
            var spin = new SpinWait();
            while (!job.Done) spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref current, null);
            if (job.Failure is not null) throw new AggregateException(job.Failure);
        }
        finally
        {
            Monitor.Exit(gate);
        }
    }

    void StartHelpers()
    {
        if (started) return;
        started = true;
        for (int i = 0; i < helpers; i++)
            new Thread(HelperLoop) { IsBackground = true, Name = $"PluginGpt matrix-vector {i + 1}" }.Start();
    }

    void HelperLoop()
    {
        long seen = 0;
        while (true)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            while (Interlocked.Read(ref calls) == seen && System.Diagnostics.Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(20);
            if (Interlocked.Read(ref calls) == seen)
            {
                Interlocked.Increment(ref sleeping);
                // A call published between the look above and the count found no sleeper to wake: look again before sleeping. A
                // wake-up left over from such a race only costs one more round of spinning.
                if (Interlocked.Read(ref calls) == seen) wake.Wait();
                continue;
            }
            seen = Interlocked.Read(ref calls);
            Volatile.Read(ref current)?.Run();
        }
    }
}
