using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>
/// samples/BitFit is built as an outside author would: copied out of the repository and built against the SDK package
/// packed from src/Abstractions into a local feed; the host then loads and trains it.
/// </summary>
public class SamplePluginTests
{
    [Fact]
    public void BitFit_sample_builds_from_a_copy_outside_the_repo_against_the_packed_SDK_and_trains_only_biases()
    {
        var version = DotnetCli.UniqueVersion(2, 0);
        try { BuildLoadAndTrain(version); }
        finally { DotnetCli.ForgetPackage("PluginGpt.Sdk", version); }   // made for this test only
    }

    static void BuildLoadAndTrain(string version)
    {
        using var dir = new TempDir();
        DotnetCli.Dotnet(CliRunner.RepoRoot, "pack", "src/Abstractions", "-c", "Release", "--no-build", "-o", dir["feed"],
            $"-p:PackageVersion={version}");
        DotnetCli.CopyTree(Path.Combine(CliRunner.RepoRoot, "samples", "BitFit"), dir["BitFit"]);
        DotnetCli.Dotnet(dir["BitFit"], "build", "-c", "Release", "-o", dir["out"], $"-p:RestoreAdditionalProjectSources={dir["feed"]}");
        Assert.True(File.Exists(dir["out/PluginGpt.Samples.BitFit.dll"]));
        foreach (var hostOwned in new[] { "TorchSharp.dll", "PluginGpt.Abstractions.dll", "libtorch.so" })
            Assert.False(File.Exists(Path.Combine(dir["out"], hostOwned)),
                $"{hostOwned} belongs to the host and must not be copied into the plugin folder");

        var list = CliRunner.Run("plugins", "--json", "--plugins", dir["out"]);
        var bitfit = JsonDocument.Parse(list.Stdout).RootElement.GetProperty("plugins").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == "bitfit");
        Assert.Equal("PluginGpt.Samples.BitFit.dll", bitfit.GetProperty("assembly").GetString());

        // Biases of the tiny model (2 layers, d=32): per block ln_1 + ln_2 (64), c_attn 96, attn c_proj 32, c_fc 128, mlp c_proj 32; ln_f
        // 32;
        // plus the 2-class head (32·2 + 2). Without norms: no ln_1, ln_2 and no ln_f.
        Assert.Equal(2 * (64 + 96 + 32 + 128 + 32) + 32 + 66, TrainedParameters(dir, "all", dir["out"]));
        Assert.Equal(2 * (96 + 32 + 128 + 32) + 66,
            TrainedParameters(dir, "linear", dir["out"], "--set", "method.options.include_norms=false"));
        Assert.True(File.Exists(Path.Combine(dir["all"], "best", "adapter_model.safetensors")));   // the SDK's default save: PEFT layout
        var again = CliRunner.Run("evaluate", dir["all"], "--json", "--plugins", dir["out"]);
        Assert.True(again.ExitCode == 0, again.Stderr);
        var verify = CliRunner.Run("verify", "--method", "bitfit", "--set", "include_norms=false", "--plugins", dir["out"]);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);

        // A run remembers where its plugin came from: evaluating it without that folder says which --plugins to pass.
        var lost = CliRunner.Run("evaluate", dir["all"]);
        Assert.Equal(2, lost.ExitCode);
        Assert.Contains($"pass --plugins {dir["out"]}", lost.Stderr);
    }

    static long TrainedParameters(TempDir dir, string run, string plugins, params string[] extra)
    {
        var r = CliRunner.Run(["run", Experiments.Tiny, "--plugins", plugins, "--set", "method.name=bitfit", "--set", "training.epochs=1",
            "--set", $"output={dir[run]}", .. extra]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir[run], "metrics.json"))).RootElement
            .GetProperty("trainable_parameters").GetInt64();
    }
}
