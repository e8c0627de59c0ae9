namespace PluginGpt.Core.Tests;

/// <summary>Benchmark records name the CPU with its family and model: VMs report one bare name for several generations.</summary>
public class CpuModelTests
{
    [Fact]
    public void The_first_processor_is_named_with_its_family_and_model()
    {
        const string zen5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n" +
            "flags\t\t: fpu avx512_bf16\n\nprocessor\t: 1\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n";
        Assert.Equal("AMD EPYC (family 26, model 2)", CpuFeatures.Describe(zen5));
    }

    [Fact]
    public void A_cpuinfo_without_family_keeps_the_name_and_one_without_a_name_gives_none()
    {
        Assert.Equal("Neoverse", CpuFeatures.Describe("processor\t: 0\nmodel name\t: Neoverse\n"));
        Assert.Null(CpuFeatures.Describe("processor\t: 0\nBogoMIPS\t: 50.00\n"));
    }

    [Fact]
    public void This_machine_is_described_where_the_OS_lists_its_CPU()
    {
        if (!File.Exists("/proc/cpuinfo")) return;
        Assert.Equal(CpuFeatures.Describe(File.ReadAllText("/proc/cpuinfo")), CpuFeatures.Model);
    }
}
