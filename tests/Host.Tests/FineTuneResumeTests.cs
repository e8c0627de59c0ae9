using System.Diagnostics;
using System.Text.Json;
using PluginGpt.Core.Training;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>`run --resume`: a fine-tuning run killed (SIGKILL) at a random step continues from its checkpoint to the same
/// per-step losses, evaluations and final metrics as the run never interrupted.</summary>
public class FineTuneResumeTests
{
    // 320 examples in batches of 16, 2 epochs: 40 steps; a checkpoint every 3 steps and after each epoch's evaluation.
    static readonly string[] Settings = ["--set", "task.max_train=320", "--set", "training.checkpoint_every=3",
        "--set", "training.eval_every=0"];

    [Fact]
    public async Task A_run_killed_at_a_random_step_resumes_to_the_uninterrupted_runs_losses_and_metrics()
    {
        using var dir = new TempDir();
        var experiment = Experiments.Write(dir, "classification", "sst2");
        var straight = CliRunner.Run(["run", experiment, "--set", $"output={dir["straight"]}", .. Settings]);
        Assert.True(straight.ExitCode == 0, straight.Stderr);

        int killAt = new Random().Next(4, 31);   // at least 9 steps before the end: the kill lands mid-run
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"), "--results", "none", "run", experiment,
                     "--set", $"output={dir["killed"]}", .. Settings])
            start.ArgumentList.Add(a);
        using (var run = Process.Start(start)!)
        {
            var lines = Path.Combine(dir["killed"], RunFiles.MetricsLines);
            var watch = Stopwatch.StartNew();
            while (!run.HasExited && watch.Elapsed < TimeSpan.FromMinutes(3)
                   && (!File.Exists(lines) || File.ReadLines(lines).Count(l => l.Contains("\"loss\"")) < killAt))
                Thread.Sleep(10);   // not Task.Delay: a continuation can wait seconds for a pool thread while other tests run
            Assert.False(run.HasExited, $"the run ended before step {killAt}");
            run.Kill(entireProcessTree: true);
            await run.WaitForExitAsync();
        }
        Assert.False(File.Exists(Path.Combine(dir["killed"], RunFiles.Summary)));

        var resumed = CliRunner.Run("run", "--resume", dir["killed"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr + resumed.Stdout);
        Assert.Contains("resumed after step", resumed.Stdout);
        // Every step's lr and every evaluation, in order, exactly; the losses to the last bits of a GEMM (two processes).
        Assert.Equal(Lines(dir["straight"]), Lines(dir["killed"]));
        StepLosses.AssertSame(Records(dir["straight"]), Records(dir["killed"]));
        Assert.Equal(Metrics(dir["straight"]), Metrics(dir["killed"]));
        Assert.False(Directory.Exists(Path.Combine(dir["killed"], FineTuneCheckpoint.Dir)));   // a finished run keeps best/ only

        var again = CliRunner.Run("run", "--resume", dir["killed"]);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("finished", again.Stderr);
    }

    static List<MetricsLine> Records(string run) => [.. RunFiles.ReadLines(Path.Combine(run, RunFiles.MetricsLines))];

    static List<string> Lines(string run) => [.. Records(run).Select(l => JsonSerializer.Serialize(l with { Loss = null, Parts = null }))];

    static string Metrics(string run) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run, RunFiles.Summary))).RootElement.GetProperty("metrics").GetRawText();

    [Fact]
    public void Resume_refuses_a_folder_that_is_not_a_run_or_has_no_checkpoint_in_one_line()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["empty"]);
        var notRun = CliRunner.Run("run", "--resume", dir["empty"]);
        Assert.NotEqual(0, notRun.ExitCode);
        Assert.Contains("not a run folder", notRun.Stderr);
        Directory.CreateDirectory(dir["early"]);
        File.WriteAllText(Path.Combine(dir["early"], "config.json"), "{}");
        var early = CliRunner.Run("run", "--resume", dir["early"]);
        Assert.Contains("no checkpoint/", early.Stderr);
        Assert.DoesNotContain("   at ", early.Stderr);
    }
}
