using System.Buffers.Binary;
using System.Runtime.InteropServices;
using PluginGpt.Core.NativeRuntime;

namespace PluginGpt.Core.Tests;

public class HeapSettingsTests
{
    [Fact]
    public void Our_tunables_are_added_and_the_users_own_values_kept()
    {
        Assert.Equal("glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736",
            HeapSettings.WithOurs(null));
        Assert.Equal("glibc.malloc.mmap_max=7:glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=68719476736",
            HeapSettings.WithOurs("glibc.malloc.mmap_max=7"));
        var ours = HeapSettings.WithOurs("glibc.cpu.x86_shstk=off");
        Assert.Equal(ours, HeapSettings.WithOurs(ours));   // a restarted process sees them all and does not restart again
    }

    /// <summary>In a running process (no restart: the test host) a 24 MB block freed and taken again comes back from the heap:
    /// touching it again costs (almost) no page faults. glibc's default mmaps the first (raising its threshold), grows the heap
    /// for the second — a fault per 4 KiB page, 6,144 here — and reuses only from the third.</summary>
    [Fact]
    public void A_large_block_freed_and_taken_again_costs_no_page_faults()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.StartsWith("no mmap, no trimming", HeapSettings.Apply());
        // The fewest faults of three tries, each with a larger block (so glibc's defaults would fault on every one): other tests
        // run in parallel in this process and may take the freed block in between, but not every time.
        long faults = Enumerable.Range(0, 3).Min(attempt =>
        {
            int size = (24 + attempt) << 20;
            Touch(size);
            long before = ThreadMinorFaults();
            Touch(size);
            return ThreadMinorFaults() - before;
        });
        Assert.True(faults < 600, $"{faults} page faults re-using a freed 24 MB block");
    }

    static void Touch(int size)
    {
        var block = Marshal.AllocHGlobal(size);
        for (int at = 0; at < size; at += 4096) Marshal.WriteByte(block, at, 1);
        Marshal.FreeHGlobal(block);
    }

    static long ThreadMinorFaults()
    {
        var usage = new byte[144];
        Assert.Equal(0, GetRusage(1, usage));   // RUSAGE_THREAD: this test's thread alone
        return BinaryPrimitives.ReadInt64LittleEndian(usage.AsSpan(64));   // ru_minflt after two timevals and four longs
    }

#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "getrusage")]
    static extern int GetRusage(int who, byte[] usage);
#pragma warning restore SYSLIB1054
}
