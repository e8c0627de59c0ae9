using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>adapters combine</c>: two finished LoRA runs become a third that <c>evaluate</c> reopens; bad input is one line.</summary>
public class AdaptersCommandTests
{
    static readonly string Lora = Path.Combine(CliRunner.RepoRoot, "experiments", "lora-sst2-tiny.json");

    static string TinyRun(TempDir dir, int seed)
    {
        var r = CliRunner.Run("run", Lora, "--set", "task.max_train=48", "--set", "task.max_dev=16", "--set", "training.epochs=1",
            "--set", $"seed={seed}", "--set", $"output={dir[$"run{seed}"]}");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return dir[$"run{seed}"];
    }

    [Fact]
    public void Two_runs_combine_into_a_run_that_evaluates_and_adapter_folders_into_an_adapter()
    {
        using var dir = new TempDir();
        string first = TinyRun(dir, 1), second = TinyRun(dir, 2);
        var combine = CliRunner.Run("adapters", "combine", $"{first}:0.5", $"{second}:0.5", "--type", "ties", "--out", dir["ties"]);
        Assert.True(combine.ExitCode == 0, combine.Stdout + combine.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["ties"], "best", "head.safetensors")));   // the first run's head
        var evaluate = CliRunner.Run("evaluate", dir["ties"], "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.Stdout + evaluate.Stderr);
        Assert.Contains("accuracy", evaluate.Stdout);

        var cat = CliRunner.Run("adapters", "combine", Path.Combine(first, "best"), Path.Combine(second, "best"), "--type", "cat",
            "--out", dir["cat"]);
        Assert.True(cat.ExitCode == 0, cat.Stdout + cat.Stderr);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["cat"], "adapter_config.json"))).RootElement;
        Assert.Equal(16, config.GetProperty("r").GetInt32());   // the two r = 8 adapters side by side
        Assert.Equal("cat", config.GetProperty("plugingpt_combination").GetProperty("type").GetString());

        BadInputTests.OneLine(CliRunner.Run("adapters", "combine", first, second, "--type", "average", "--out", dir["bad"]),
            "--type: 'average' is not one of");
    }
}
