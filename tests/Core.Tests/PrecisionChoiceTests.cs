using TorchSharp;

namespace PluginGpt.Core.Tests;

/// <summary><c>--precision auto</c> on a CPU is decided by what the CPU is, not by a timing: the same answer every time.</summary>
public class PrecisionChoiceTests
{
    const string Zen4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n\n" +
        "processor\t: 1\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n";
    const string Skylake = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni\n";
    const string SapphireRapids = "flags\t\t: avx512f amx_tile amx_bf16 amx_int8\n";

    [Fact]
    public void Auto_takes_bf16_exactly_where_the_CPU_has_AVX512_BF16_or_AMX()
    {
        Assert.Equal("bf16", PrecisionSelector.FromFlags(CpuFeatures.Parse(Zen4)).Name);
        Assert.Contains("avx512_bf16", PrecisionSelector.FromFlags(CpuFeatures.Parse(Zen4)).Reason);
        Assert.Equal("bf16", PrecisionSelector.FromFlags(CpuFeatures.Parse(SapphireRapids)).Name);
        Assert.Equal("fp32", PrecisionSelector.FromFlags(CpuFeatures.Parse(Skylake)).Name);
        Assert.Equal("fp32", PrecisionSelector.FromFlags(CpuFeatures.Parse("")).Name);
    }

    [Fact]
    public void Auto_on_this_machine_follows_its_flags_every_time()
    {
        var flags = CpuFeatures.Flags;
        Assert.NotNull(flags);   // the test machines are Linux
        var expected = CpuFeatures.NativeBf16(flags!) is null ? "fp32" : "bf16";
        for (int i = 0; i < 5; i++) Assert.Equal(expected, PrecisionSelector.Resolve("auto", torch.CPU).Name);
    }
}
