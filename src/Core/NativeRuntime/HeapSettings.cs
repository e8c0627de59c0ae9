namespace PluginGpt.Core.NativeRuntime;

/// <summary>
/// glibc's malloc serves large blocks with a fresh mmap and returns them to the kernel on free, so a training step that
/// allocates the same large tensors every step (logits, the embedding's gradient, optimizer temporaries) takes a page fault
/// per 4 KiB of each, every step — expensive on the sandboxed VMs we run on: GPT-2 small trained at 36 tokens/s with 4 of its
/// 5 minutes in the kernel. With large blocks kept in the heap (no mmap, no trimming) and heap memory on transparent huge
/// pages (one fault per 2 MiB), 190 (2026-12-04, 2-core AMD EPYC, `bench train --preset gpt2-small`). One arena for all
/// threads would also keep the blocks over 64 MB that a thread's arena must mmap, but its lock made bf16 at the `small` shape
/// 2.5× slower. A thread's arena grows by 64 MB heaps and unmaps a heap whole once its blocks are freed, whatever the trim
/// threshold: our training thread has such an arena, and a `small` step mapped, faulted in and unmapped heaps over and over
/// (strace of a 40-step `bench train`: 10,768 munmap calls, 1,382 with the pad). A top pad of one heap (64 MB) keeps every
/// heap (glibc's heap_trim frees one only when the heap below has more than the pad free): bf16 `small` 1.076× and 1.055×
/// tokens/s in two runs of 6 rounds alternating, 0.98× in a noisy third (2-core Zen 5 EPYC). The pad also maps each new heap
/// writable whole (64 MB of commit charge, on huge pages where touched). Tunables are read when the process starts, so
/// <see cref="RestartWithTunables"/> re-executes the process once with <c>GLIBC_TUNABLES</c> set (as users of PyTorch set
/// jemalloc or malloc variables by hand); <see cref="Apply"/> sets what can still be set in a running process. The footprint
/// is then the peak. <c>PLUGINGPT_HEAP=default</c> leaves glibc as it is.
/// </summary>
public static class HeapSettings
{
    /// <summary>Set to <c>default</c> to leave glibc's malloc as it is.</summary>
    public const string Variable = "PLUGINGPT_HEAP";
    const string Tunables = "GLIBC_TUNABLES";
    static readonly (string Key, string Value)[] Settings =
        [("glibc.malloc.hugetlb", "1"), ("glibc.malloc.mmap_max", "0"), ("glibc.malloc.trim_threshold", "68719476736"),
            ("glibc.malloc.top_pad", TopPad.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>A thread arena's heap size (HEAP_MAX_SIZE on 64-bit glibc): a pad this large keeps every heap mapped.</summary>
    const int TopPad = 64 << 20;

    /// <summary>The <c>GLIBC_TUNABLES</c> value with ours added; a key the user set keeps the user's value.</summary>
    public static string WithOurs(string? current)
    {
        var parts = (current ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).ToList();
        var keys = parts.Select(p => p.Split('=')[0]).ToHashSet();
        parts.AddRange(Settings.Where(s => !keys.Contains(s.Key)).Select(s => $"{s.Key}={s.Value}"));
        return string.Join(':', parts);
    }

    /// <summary>Re-executes this process with our tunables when it started without them (Linux; once: the restarted process
    /// has them). Returns only when no restart happened.</summary>
    public static void RestartWithTunables()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is "default") return;
        var current = Environment.GetEnvironmentVariable(Tunables);
        if (current == WithOurs(current)) return;
        try
        {
            var argv = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
            var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(k => k != Tunables).Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}")
                .Append($"{Tunables}={WithOurs(current)}").ToArray();
            LibC.Execute("/proc/self/exe", argv, environment);   // returns only on failure: then run as we are
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            // No /proc or no execve: run with glibc's defaults.
        }
    }

    /// <summary>What holds in this process, for <c>doctor</c>: the tunables it started with, else what <c>mallopt</c> can set
    /// in a running process (no mmap, no trimming, no heap unmapped).</summary>
    public static string Apply() => Applied.Value;

    static readonly Lazy<string> Applied = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return "the platform's default (not Linux)";
        if (Environment.GetEnvironmentVariable(Variable) is "default") return $"glibc's default ({Variable}=default)";
        var current = Environment.GetEnvironmentVariable(Tunables);
        if (current is not null && current == WithOurs(current)) return $"{Tunables}={current} (from the start)";
        try
        {
            bool ok = LibC.Mallopt(LibC.MallocMmapMax, 0) == 1 & LibC.Mallopt(LibC.MallocTrimThreshold, int.MaxValue) == 1
                & LibC.Mallopt(LibC.MallocTopPad, TopPad) == 1;
            return ok ? "no mmap, no trimming, no heap unmapped (mallopt; no huge pages)" : "glibc's default (mallopt refused)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "the platform's default (no glibc)";
        }
    });
}
