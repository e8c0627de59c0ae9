using System.Runtime.InteropServices;
using PluginGpt.Core.NativeRuntime;

namespace PluginGpt.Core.Tests;

public class HeapSettingsTests
{
    [Fact]
    public void Our_tunables_are_added_and_the_users_own_values_kept()
    {
        Assert.Equal("glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
            + ":glibc.malloc.top_pad=67108864", HeapSettings.WithOurs(null));
        Assert.Equal("glibc.malloc.mmap_max=7:glibc.malloc.hugetlb=1:glibc.malloc.trim_threshold=68719476736"
            + ":glibc.malloc.top_pad=67108864", HeapSettings.WithOurs("glibc.malloc.mmap_max=7"));
        var ours = HeapSettings.WithOurs("glibc.cpu.x86_shstk=off");
        Assert.Equal(ours, HeapSettings.WithOurs(ours));   // a restarted process sees them all and does not restart again
    }

    /// <summary>In a running process (no restart: the test host) a 24 MB block is taken from the heap, not mapped on its own:
    /// glibc's own count of mmapped bytes (mallinfo2's hblkhd) does not grow while the block lives — with glibc's default it grows
    /// by the block. (This test counted page faults before, and one CI run under load counted
    /// 6,145 for a re-used block: the faults also depend on the arena the test thread shares with the tests around it — a thread
    /// arena without room at its top maps a fresh heap for the block and unmaps it whole on free. `bench train` measures them.)</summary>
    [Fact]
    public void A_large_block_comes_from_the_heap_not_from_its_own_mapping()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.StartsWith("no mmap, no trimming, no heap unmapped", HeapSettings.Apply());
        const int size = 24 << 20;
        long before = MappedBytes();
        var block = Marshal.AllocHGlobal(size);
        // Other tests in this process can only free mapped blocks now (mmap is off), never map new ones.
        long grown = MappedBytes() - before;
        Marshal.FreeHGlobal(block);
        Assert.True(grown < size, $"mmapped bytes grew by {grown} for a {size}-byte block");
    }

    [StructLayout(LayoutKind.Sequential)]
    struct MallocInfo
    {
        public nuint Arena, OrdinaryBlocks, SmallBlocks, MappedBlocks, MappedBytes, MaxAllocated, FastBytes, Used, Free, Keep;
    }

    static long MappedBytes() => (long)MallInfo2().MappedBytes;

#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallocInfo MallInfo2();
#pragma warning restore SYSLIB1054
}
