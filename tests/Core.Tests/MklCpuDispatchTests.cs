using System.Runtime.InteropServices;
using PluginGpt.Core.NativeRuntime;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>MKL's vendor check answered in this process (AMD CPUs), and what its GEMM then computes.</summary>
public class MklCpuDispatchTests
{
    static readonly bool OnAmd = File.Exists("/proc/cpuinfo") && MklCpuDispatch.Vendor(File.ReadAllText("/proc/cpuinfo")) == "AuthenticAMD";

    [Fact]
    public void The_vendor_is_read_from_cpuinfo()
    {
        Assert.Equal("AuthenticAMD", MklCpuDispatch.Vendor("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n"));
        Assert.Equal("GenuineIntel", MklCpuDispatch.Vendor("vendor_id : GenuineIntel\n"));
        Assert.Null(MklCpuDispatch.Vendor("processor : 0\n"));
    }

    [Fact]
    public void Both_vendor_checks_are_found_in_libtorch_cpu_relocations()
    {
        _ = get_num_threads();
        var library = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 6 && f[5].EndsWith("/libtorch_cpu.so", StringComparison.Ordinal)).Select(f => f[5]).First();
        var slots = ElfGotSlot.Find(library, ["mkl_serv_intel_cpu", "mkl_serv_intel_cpu_true", "no_such_symbol"]);
        Assert.Equal(["mkl_serv_intel_cpu", "mkl_serv_intel_cpu_true"], slots.Keys.Order());
        Assert.All(slots.Values, offset => Assert.Equal(0ul, offset % 8));   // table slots are pointer-aligned
        Assert.NotEqual(slots["mkl_serv_intel_cpu"], slots["mkl_serv_intel_cpu_true"]);
    }

    [Fact]
    public void On_an_AMD_CPU_the_slots_point_at_code_that_answers_one_and_gemm_stays_exact()
    {
        string chosen = MklCpuDispatch.Apply();
        if (!OnAmd || Environment.GetEnvironmentVariable(MklCpuDispatch.Variable) == "vendor")
        {
            Assert.Empty(MklCpuDispatch.PatchedSlots);
            Assert.StartsWith("MKL's own choice", chosen);
        }
        else
        {
            Assert.StartsWith("MKL by CPU features", chosen);
            Assert.Equal(2, MklCpuDispatch.PatchedSlots.Count);
            foreach (var slot in MklCpuDispatch.PatchedSlots)
            {
                var code = new byte[6];
                Marshal.Copy(Marshal.ReadIntPtr(slot), code, 0, 6);
                Assert.Equal(new byte[] { 0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3 }, code);   // mov eax, 1; ret
            }
        }
        // Whatever kernels MKL picked, fp32 GEMM must agree with a double-precision reference.
        using var scope = NewDisposeScope();
        manual_seed(3);
        var a = randn(257, 300);
        var b = randn(300, 129);
        var reference = a.to(ScalarType.Float64).matmul(b.to(ScalarType.Float64));
        Assert.True((a.matmul(b).to(ScalarType.Float64) - reference).abs().max().item<double>() < 1e-3);
    }
}
