using System.Diagnostics;
using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>
/// The Generic Host as the composition root: one cancellation for Ctrl+C and SIGTERM, telemetry, parameter counts of every method.
/// </summary>
public class CompositionTests
{
    [Fact]
    public async Task SIGTERM_during_pretraining_saves_a_checkpoint_and_exits_130()
    {
        using var dir = new TempDir();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = CliRunner.RepoRoot,
        };
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"), "pretrain", "--preset", "tiny", "--max-steps", "100000",
            "--batch-size", "2", "--block-size", "16", "--eval-interval", "100000", "--checkpoint-interval", "100000",
            "--out", dir["model"],
        ];
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        // Wait for the first training step's report (stdout is not a terminal: plain lines), then ask the process to stop.
        string? line;
        while ((line = await process.StandardOutput.ReadLineAsync()) is not null && !line.Contains("step 1/")) { }
        Assert.NotNull(line);
        Process.Start("kill", ["-TERM", process.Id.ToString()]).WaitForExit();
        var rest = await process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "the process did not stop after SIGTERM");
        Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}: {await stderr}{rest}");
        var statePath = Path.Combine(dir["model"], "checkpoint", "trainer_state.json");
        int step = JsonDocument.Parse(File.ReadAllText(statePath)).RootElement.GetProperty("Step").GetInt32();
        Assert.True(step >= 1);
        // The checkpoint carries the run's options: --resume continues the same run, so another length is refused.
        var resumed = CliRunner.Run("pretrain", "--out", dir["model"], "--resume", "--max-steps", (step + 1).ToString());
        Assert.Equal(2, resumed.ExitCode);
        Assert.Contains("--max-steps: this run was started with 100000", resumed.Stderr);
    }

    [Fact]
    public void Telemetry_console_exports_the_runs_spans_and_metrics_under_the_service_name()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", "training.epochs=1", "--set", $"output={dir["run"]}",
            "--telemetry", "console");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("service.name: plugingpt", r.Stdout);
        Assert.Contains("plugingpt.train.loss", r.Stdout);
        Assert.Contains("Activity.DisplayName:        run", r.Stdout);
    }

    [Fact]
    public void Total_parameters_count_the_body_the_methods_own_modules_and_the_head_for_every_shipped_method()
    {
        using var dir = new TempDir();
        var tokenizer = GptTokenizer.Load(Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k"));
        using var body = new Decoder(Presets.Tiny with { Vocab = tokenizer.VocabSize }, TorchSharp.torch.META);
        long bodyCount = body.parameters().Sum(p => p.numel());
        foreach (var method in new[] { "full", "probe", "lora", "adapters", "prompt", "p-tuning", "prefix", "ia3" })
        {
            var r = CliRunner.Run("run", Experiments.Tiny, "--set", $"method.name={method}", "--set", "training.epochs=1",
                "--set", "task.max_train=16", "--set", "task.max_dev=8", "--set", $"output={dir[method]}");
            Assert.True(r.ExitCode == 0, r.Stderr);
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir[method], "metrics.json"))).RootElement;
            long total = summary.GetProperty("total_parameters").GetInt64();
            long trainable = summary.GetProperty("trainable_parameters").GetInt64();
            // Full fine-tuning trains the body itself; every other method adds its own trainable tensors to the frozen body.
            Assert.Equal(method == "full" ? trainable : bodyCount + trainable, total);
            // More than the 2-class head, except for the probe.
            Assert.True(trainable > 66 || method == "probe", $"{method}: {trainable} trainable");
        }
    }
}
