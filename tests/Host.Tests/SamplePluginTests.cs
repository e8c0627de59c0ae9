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

    [Fact]
    public void EventLog_callback_sample_built_outside_the_repo_hears_every_event_in_order_and_can_stop_a_run()
    {
        var version = DotnetCli.UniqueVersion(2, 4);
        try
        {
            using var dir = new TempDir();
            DotnetCli.Dotnet(CliRunner.RepoRoot, "pack", "src/Abstractions", "-c", "Release", "--no-build", "-o", dir["feed"],
                $"-p:PackageVersion={version}");
            DotnetCli.CopyTree(Path.Combine(CliRunner.RepoRoot, "samples", "EventLog"), dir["EventLog"]);
            DotnetCli.Dotnet(dir["EventLog"], "build", "-c", "Release", "-o", dir["out"],
                $"-p:RestoreAdditionalProjectSources={dir["feed"]}");

            // 48 examples in batches of 16, 2 epochs: 6 steps, scored after each epoch.
            var r = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--plugins", dir["out"],
                "--set", $"output={dir["run"]}", "--set", "callbacks=[{\"name\": \"event-log\"}]");
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            var events = File.ReadAllLines(Path.Combine(dir["run"], "events.csv")).Skip(1).Select(l => l.Split(',')).ToList();
            Assert.Equal("run_start", events[0][0]);
            Assert.Equal("run_end", events[^1][0]);
            Assert.Equal(["1", "2", "3", "4", "5", "6"], events.Where(e => e[0] == "step").Select(e => e[1]));
            var order = string.Join(" ",
                events.Select(e => e[0] switch { "step" => "s", "evaluation" => "e", "best_saved" => "b", _ => "x" }));
            Assert.Matches(@"^x s s s e( b)? s s s e( b)? x$", order);   // an evaluation after each epoch's steps, a save after a best
            Assert.Equal("true", events.First(e => e[0] == "evaluation")[6]);   // the first evaluation is the best so far
            Assert.Equal("best_saved", events[events.FindIndex(e => e[0] == "evaluation") + 1][0]);

            // A callback that stops the run: after step 1 (any loss is below 100), scored once, reported as stopped.
            var stopped = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--plugins", dir["out"],
                "--set", $"output={dir["stopped"]}",
                "--set", "callbacks=[{\"name\": \"event-log\", \"options\": {\"stop_below_loss\": 100}}]");
            Assert.True(stopped.ExitCode == 0, stopped.Stderr + stopped.Stdout);
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["stopped"], "metrics.json"))).RootElement;
            Assert.Equal(1, summary.GetProperty("steps").GetInt32());
            Assert.True(summary.GetProperty("stopped_early").GetBoolean());
            Assert.Contains("event-log", summary.GetProperty("stop_reason").GetString());

            var bad = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--plugins", dir["out"],
                "--set", $"output={dir["bad"]}",
                "--set", "callbacks=[{\"name\": \"event-log\", \"options\": {\"file\": \"../x.csv\"}}]");
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("callbacks.options.file", bad.Stderr);
            Assert.False(Directory.Exists(dir["bad"]));   // refused before the run's folder was made
        }
        finally { DotnetCli.ForgetPackage("PluginGpt.Sdk", version); }
    }
}
