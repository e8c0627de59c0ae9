using System.Runtime.InteropServices;

namespace PluginGpt.Core.NativeRuntime;

/// <summary>The few glibc calls the native tuning needs (Linux only; callers check the OS first).</summary>
static class LibC
{
    public const int ProtRead = 1, ProtWrite = 2, ProtExec = 4;
    const int MapPrivate = 0x02, MapAnonymous = 0x20;
    public const int MallocTrimThreshold = -1, MallocTopPad = -2, MallocMmapMax = -4;

    /// <summary>A fresh private page of memory, readable and writable, or null.</summary>
    public static IntPtr? AnonymousPage(nuint size)
    {
        var page = Mmap(IntPtr.Zero, size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, IntPtr.Zero);
        return page == new IntPtr(-1) ? null : page;
    }

#pragma warning disable SYSLIB1054   // LibraryImport needs unsafe code in the whole assembly, for a few blittable calls
    [DllImport("libc", EntryPoint = "mmap")]
    static extern IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, IntPtr offset);

    [DllImport("libc", EntryPoint = "mprotect")]
    public static extern int Mprotect(IntPtr address, nuint length, int protection);

    [DllImport("libc", EntryPoint = "mallopt")]
    public static extern int Mallopt(int parameter, int value);

    /// <summary>Replaces this process's program (execve); returns only when that failed.</summary>
    public static void Execute(string path, string[] argv, string[] environment) =>
        Execve(path, [.. argv, null], [.. environment, null]);

    [DllImport("libc", EntryPoint = "execve")]
    static extern int Execve(string path, string?[] argv, string?[] environment);

    [DllImport("libc", EntryPoint = "setenv")]
    public static extern int SetEnvironment(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getpagesize")]
    public static extern int PageSize();
#pragma warning restore SYSLIB1054
}
