using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>The sample in samples/BitFit builds on its own (outside the solution) and the host runs it.</summary>
public class SamplePluginTests
{
    [Fact]
    public void BitFit_sample_builds_alone_loads_and_trains_only_biases()
    {
        using var dir = new TempDir();
        var build = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = CliRunner.RepoRoot };
        foreach (var a in new[] { "build", "samples/BitFit/BitFit.csproj", "-o", dir["bitfit"], "-v", "q" }) build.ArgumentList.Add(a);
        using (var p = Process.Start(build)!)
        {
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, output);
        }
        Assert.False(File.Exists(dir["bitfit/TorchSharp.dll"]), "the host's TorchSharp must not be copied into the plugin folder");

        var list = CliRunner.Run("plugins", "--json", "--plugins", dir["bitfit"]);
        var bitfit = JsonDocument.Parse(list.Stdout).RootElement.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "bitfit");
        Assert.Equal("PluginGpt.Samples.BitFit.dll", bitfit.GetProperty("assembly").GetString());

        var run = CliRunner.Run("run", Experiments.Tiny, "--plugins", dir["bitfit"], "--set", "method.name=bitfit", "--set", $"output={dir["run"]}");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement;
        // Biases of the tiny model (2 layers, d=32): per block ln_1 + ln_2 (64), c_attn 96, attn c_proj 32, c_fc 128, mlp c_proj 32; ln_f 32; plus the 2-class head (32·2 + 2).
        Assert.Equal(2 * (64 + 96 + 32 + 128 + 32) + 32 + 66, metrics.GetProperty("trainable_parameters").GetInt64());
        Assert.True(File.Exists(Path.Combine(dir["run"], "best", "bitfit.bin")));
    }
}
