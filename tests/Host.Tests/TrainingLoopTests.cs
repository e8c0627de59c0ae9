using System.Text.Json;
using PluginGpt.Core.Training;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>training.eval_every, best_metric and early_stopping through `run`: what metrics.jsonl records is what the run
/// kept and where it stopped.</summary>
public class TrainingLoopTests
{
    static (JsonElement Summary, List<(int Step, Dictionary<string, double> Scores)> Evaluations) Run(TempDir dir, params string[] set)
    {
        var r = CliRunner.Run(["run", Experiments.Write(dir, "classification", "sst2"), "--set", $"output={dir["run"]}",
            .. set.SelectMany(s => new[] { "--set", s })]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement;
        var evaluations = RunFiles.ReadLines(Path.Combine(dir["run"], "metrics.jsonl")).Where(l => l.Eval is not null)
            .Select(l => (l.Step!.Value, l.Eval!.ToDictionary())).ToList();
        return (summary, evaluations);
    }

    [Fact]
    public void Evaluation_by_steps_keeps_the_best_step_by_the_named_metric()
    {
        using var dir = new TempDir();
        // 48 examples, batches of 16, 2 epochs: 6 steps, scored after steps 2, 4 and 6.
        var (summary, evaluations) = Run(dir, "training.eval_every=2", "training.best_metric=macro_f1");
        Assert.Equal([2, 4, 6], evaluations.Select(e => e.Step));
        var best = evaluations.First(e => e.Scores["macro_f1"] == evaluations.Max(x => x.Scores["macro_f1"]));
        Assert.Equal(best.Step, summary.GetProperty("best_step").GetInt32());
        Assert.Equal(best.Scores["accuracy"], summary.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.False(summary.GetProperty("stopped_early").GetBoolean());
        Assert.Contains("| epoch | step |", File.ReadAllText(Path.Combine(dir["run"], "loss.md")));
    }

    [Fact]
    public void Early_stopping_ends_the_run_where_its_rule_says_on_the_recorded_scores()
    {
        using var dir = new TempDir();
        // No gain of half a point is possible after the first evaluation: patience 2 stops after the third.
        var (summary, evaluations) = Run(dir, "training.eval_every=1", "training.early_stopping.patience=2",
            "training.early_stopping.min_delta=0.5");
        Assert.Equal([1, 2, 3], evaluations.Select(e => e.Step));
        Assert.Equal(3, summary.GetProperty("steps").GetInt32());
        Assert.True(summary.GetProperty("stopped_early").GetBoolean());
    }

    [Theory]
    [InlineData("full")]
    [InlineData("lora")]
    public void Gradient_checkpointing_trains_to_the_same_losses_and_metrics(string method)
    {
        using var dir = new TempDir();
        List<MetricsLine> Lines(string run) => [.. RunFiles.ReadLines(Path.Combine(dir[run], "metrics.jsonl"))];
        foreach (var (run, on) in new[] { ("plain", false), ("recomputed", true) })
        {
            var r = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--set", $"output={dir[run]}",
                "--set", $"method.name={method}", "--set", $"training.gradient_checkpointing={(on ? "true" : "false")}");
            Assert.True(r.ExitCode == 0, r.Stderr);
        }
        var (plain, recomputed) = (Lines("plain"), Lines("recomputed"));
        StepLosses.AssertSame(plain, recomputed);
        foreach (var (a, b) in plain.Zip(recomputed)) Assert.Equal(a.Eval?.Values.ToList(), b.Eval?.Values.ToList());
    }

    [Fact]
    public void Gradient_checkpointing_lowers_the_memory_of_a_training_step_measured_in_separate_processes()
    {
        double Memory(params string[] extra)
        {
            // GPT-1's 12 blocks at 2 × 256 tokens: activations (~20 MiB a block) outweigh the LM head's logits, so the saving
            // (~340 MiB measured) stands far above the process peak's noise; on `small` the head dominates and it does not.
            // glibc with a fixed mmap threshold: every block over 64 KiB is mapped and goes back to the kernel on free, so the peak
            // is the live memory's (same figure run after run). With glibc's default the threshold grows after the first free and
            // later blocks fragment the heap (peaks varied by ±500 MiB between identical runs); with the host's settings (large
            // blocks kept, transparent huge pages) the peak also holds whatever 2 MiB pages the kernel rounded up to.
            var r = CliRunner.RunWith(new() { ["PLUGINGPT_HEAP"] = "default", ["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=65536" },
                ["bench", "train", "--preset", "gpt1", "--precision", "fp32", "--steps", "1", "--batch-size", "2", "--block-size", "256",
                 "--json", .. extra]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.StartsWith("{", r.Stdout);
            return JsonDocument.Parse(r.Stdout).RootElement.GetProperty("fp32_train_memory_mib").GetDouble();
        }
        double plain = Memory(), recomputed = Memory("--gradient-checkpointing");
        Assert.True(recomputed < plain, $"checkpointed {recomputed} MiB, plain {plain} MiB");
    }

    [Theory]
    [InlineData("training.optimizer=lion", "training.optimizer")]
    [InlineData("training.schedule=step", "training.schedule")]
    [InlineData("training.eval_every=-1", "training.eval_every")]
    [InlineData("training.early_stopping.patience=0", "training.early_stopping.patience")]
    [InlineData("training.best_metric=bleu", "training.best_metric")]
    public void Bad_training_keys_are_one_line_naming_the_field(string set, string field)
    {
        using var dir = new TempDir();
        BadInputTests.OneLine(
            CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--set", $"output={dir["run"]}", "--set", set), field);
    }

    [Fact]
    public void Keep_last_refuses_anything_that_would_choose_by_the_dev_set()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--set", $"output={dir["run"]}",
            "--set", "training.keep=last", "--set", "training.eval_every=2");
        BadInputTests.OneLine(r, "training.keep");
    }
}
