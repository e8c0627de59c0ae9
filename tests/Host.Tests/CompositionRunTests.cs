using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>method.with</c> end to end: a composed run trains, saves one <c>best/</c>, reopens for evaluation, and a clash of hook
/// points is one line.</summary>
public class CompositionRunTests
{
    static readonly string Composed = Path.Combine(CliRunner.RepoRoot, "experiments", "lora-prefix-sst2-tiny.json");

    [Fact]
    public void LoRA_with_prefix_tuning_runs_saves_both_and_evaluates_from_its_folder()
    {
        using var dir = new TempDir();
        var run = CliRunner.Run("run", Composed, "--set", "task.max_train=64", "--set", "task.max_dev=32", "--set", "training.epochs=1",
            "--set", $"output={dir["run"]}");
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["run"], "best", "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(dir["run"], "best", "with-1-prefix", "adapter_config.json")));
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement;
        Assert.Equal("lora+prefix", metrics.GetProperty("method").GetString());
        // Every plugin of the composition is recorded as the main method's is (name, version, assembly, folder).
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "config.json"))).RootElement;
        var provenance = config.GetProperty("provenance");
        Assert.Equal("prefix", provenance.GetProperty("method.with[0]").GetProperty("name").GetString());

        var evaluate = CliRunner.Run("evaluate", dir["run"], "--json");
        Assert.True(evaluate.ExitCode == 0, evaluate.Stdout + evaluate.Stderr);
        double accuracy = metrics.GetProperty("metrics").GetProperty("accuracy").GetDouble();
        Assert.Contains($"{accuracy}", evaluate.Stdout.Replace(" ", ""));   // the reopened run scores as it did when it finished
    }

    [Fact]
    public void Two_methods_on_one_hook_point_are_one_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["x.json"], File.ReadAllText(Composed)
            .Replace("\"name\": \"prefix\", \"options\": { \"num_virtual_tokens\": 10 }", "\"name\": \"dora\""));
        BadInputTests.OneLine(CliRunner.Run("run", dir["x.json"], "--set", $"output={dir["run"]}"),
            "method.with[0]: methods 'lora' and 'dora' both use Linears");
        Assert.False(Directory.Exists(dir["run"]));
    }
}
