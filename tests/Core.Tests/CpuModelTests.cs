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
        // "model name" before "model": the model number is the line whose key is exactly "model".
        const string nameFirst = "processor\t: 0\nmodel name\t: AMD EPYC 9B45\ncpu family\t: 26\nmodel\t\t: 17\n";
        Assert.Equal("AMD EPYC 9B45 (family 26, model 17)", CpuFeatures.Describe(nameFirst));
    }

    [Fact]
    public void A_cpuinfo_without_family_keeps_the_name_and_one_without_a_name_gives_none()
    {
        Assert.Equal("Neoverse", CpuFeatures.Describe("processor\t: 0\nmodel name\t: Neoverse\n"));
        Assert.Null(CpuFeatures.Describe("processor\t: 0\nBogoMIPS\t: 50.00\n"));
    }
}
