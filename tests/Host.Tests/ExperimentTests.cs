using System.Text.Json;
using PluginGpt.Core.Training;
using Xunit;

namespace PluginGpt.Host.Tests;

public class ExperimentTests
{
    [Theory]
    [InlineData("classification", "sst2", "accuracy")]
    [InlineData("nli", "rte", "accuracy")]
    [InlineData("nli", "snli", "accuracy")]
    [InlineData("similarity", "stsb", "pearson")]
    [InlineData("multiple-choice", "copa", "accuracy")]
    [InlineData("multiple-choice", "csqa", "accuracy")]
    public void Full_fine_tuning_runs_on_each_task_family_and_writes_its_run_folder(string task, string dataset, string metric)
    {
        using var dir = new TempDir();
        var run = dir["run"];
        var r = CliRunner.Run("run", Experiments.Write(dir, task, dataset), "--set", $"output={run}");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "metrics.json", "run.log", "best/adapter_model.safetensors",
                                  "best/head.safetensors", "loss.png", "loss.md" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))).RootElement;
        Assert.Equal(metric, summary.GetProperty("primary_metric").GetString());
        Assert.InRange(summary.GetProperty("metrics").GetProperty(metric).GetDouble(), -1, 1);
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(2, lines.Count(l => l.Contains("\"eval\"")));   // one evaluation per epoch
        Assert.Equal(6, lines.Count(l => l.Contains("\"loss\"")));    // 48 examples / 16 per batch × 2 epochs
        Assert.Contains("\"tokenizer\"", File.ReadAllText(Path.Combine(run, "config.json")));   // the resolved config is kept
        Assert.Equal(2 + 2, File.ReadAllLines(Path.Combine(run, "loss.md")).Length);   // header, rule, one row per epoch
        Assert.Contains($" {metric} |", File.ReadAllLines(Path.Combine(run, "loss.md"))[0]);
    }

    [Fact]
    public void Same_seed_gives_identical_metrics_and_set_overrides_any_field()
    {
        using var dir = new TempDir();
        var a = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["a"]}");
        var b = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["b"]}");
        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, a.Stderr + b.Stderr);
        string Metrics(string run) =>
            JsonDocument.Parse(File.ReadAllText(Path.Combine(dir[run], "metrics.json"))).RootElement.GetProperty("metrics").GetRawText();
        Assert.Equal(Metrics("a"), Metrics("b"));
        List<MetricsLine> Lines(string run) => [.. RunFiles.ReadLines(Path.Combine(dir[run], "metrics.jsonl"))];
        StepLosses.AssertSame(Lines("a"), Lines("b"));

        var c = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["c"]}", "--set", "training.epochs=1",
            "--set", "training.batch_size=32");
        Assert.Equal(0, c.ExitCode);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir["c"], "metrics.jsonl")).Count(l => l.Contains("\"loss\"")));
    }

    [Fact]
    public void A_Hugging_Face_GPT2_folder_gets_rows_for_the_special_tokens()
    {
        using var dir = new TempDir();
        var golden = Path.Combine(CliRunner.RepoRoot, "tests", "Core.Tests", "Fixtures", "golden-tiny-gpt2");   // HF files, 512 tokens
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", "model.preset=null", "--set", $"model.path={golden}",
            "--set", $"model.tokenizer={Experiments.SmallTokenizer(dir)}", "--set", "training.epochs=1", "--set", $"output={dir["run"]}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        // 510 ids of its own fit the 512 rows; the special tokens it lacks get 3 new ones.
        Assert.Contains("vocabulary grown from 512 to 515", File.ReadAllText(Path.Combine(dir["run"], "run.log")));
        // A tokenizer with more ids of its own than the model has rows belongs to another model.
        var foreign = CliRunner.Run("run", Experiments.Tiny, "--set", "model.preset=null", "--set", $"model.path={golden}",
            "--set", $"output={dir["foreign"]}");
        Assert.Equal(2, foreign.ExitCode);
        Assert.Contains("belongs to another model", foreign.Stderr);
    }

    [Theory]
    [InlineData("lora", "adapter_model.safetensors")]
    [InlineData("adapters", "adapter_model.safetensors")]
    [InlineData("probe", "head.safetensors")]
    [InlineData("prompt", "adapter_model.safetensors")]     // 20 virtual tokens: inputs are cut to the 44 positions left
    [InlineData("p-tuning", "adapter_model.safetensors")]
    [InlineData("prefix", "adapter_model.safetensors")]
    public void Every_method_plugin_runs_through_the_shared_loop(string method, string savedFile)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", $"method.name={method}", "--set", "training.epochs=1",
            "--set", $"output={dir["run"]}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["run"], "best", savedFile)));
        // the task head always travels with the method's weights
        Assert.True(File.Exists(Path.Combine(dir["run"], "best", "head.safetensors")));
        var again = CliRunner.Run("evaluate", dir["run"], "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
    }

    [Fact]
    public void Best_checkpoint_reloads_to_identical_dev_metrics()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["run"]}");
        Assert.Equal(0, r.ExitCode);
        var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement.GetProperty("metrics");
        var again = CliRunner.Run("evaluate", dir["run"], "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        var reloaded = JsonDocument.Parse(again.Stdout).RootElement;
        foreach (var m in saved.EnumerateObject()) Assert.Equal(m.Value.GetDouble(), reloaded.GetProperty(m.Name).GetDouble(), 12);
    }
}
