using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>`inspect --method` reproduces PEFT's and AdapterHub's published parameter counts for GPT-2 small.</summary>
public class InspectMethodTests
{
    [Theory]
    [InlineData("lora", "r=8", 294_912, 124_734_720)]
    [InlineData("prompt", "num_virtual_tokens=20", 15_360, 124_455_168)]
    [InlineData("p-tuning", "num_virtual_tokens=20", 1_787_136, 126_226_944)]
    [InlineData("prefix", "num_virtual_tokens=20", 368_640, 124_808_448)]
    [InlineData("adapters", "config=pfeiffer", 894_528, 125_334_336)]
    [InlineData("adapters", "config=houlsby", 1_789_056, 126_228_864)]
    [InlineData("ia3", "init_ia3_weights=true", 64_512, 124_504_320)]
    public void GPT2_small_counts(string method, string option, long trainable, long total)
    {
        var r = CliRunner.Run("inspect", "--model", "gpt2-small", "--method", method, "--set", option, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(trainable, json.GetProperty("trainableParameters").GetInt64());
        Assert.Equal(total, json.GetProperty("totalParameters").GetInt64());
    }
}
