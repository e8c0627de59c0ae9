using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>bench method</c> reports what it measured (its figures are ratios for people to read, not timed assertions).</summary>
public class BenchTests
{
    [Fact]
    public void Bench_method_reports_forward_and_step_costs_of_a_mergeable_method()
    {
        var r = CliRunner.Run("bench", "method", "--method", "lora", "--preset", "tiny", "--set", "r=8", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(2 * (8 * 32 + 96 * 8),
            figures.GetProperty("trainable_parameters").GetInt64());   // A [8, 32] and B [96, 8] on 2 layers' c_attn
        foreach (var name in new[] { "base_forward_ms", "method_forward_ms", "merged_forward_ms", "full_step_ms", "method_step_ms" })
            Assert.True(figures.GetProperty(name).GetDouble() > 0, name);
    }

    [Fact]
    public void Bench_method_in_bf16_casts_only_the_trainable_weights_in_a_step_and_takes_a_dropout()
    {
        var r = CliRunner.Run("bench", "method", "--method", "lora", "--preset", "tiny", "--set", "r=8", "--precision", "bf16",
            "--dropout", "0.1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal("bf16", figures.GetProperty("precision").GetString());
        // The frozen body's casts are kept for the run: a LoRA step casts its A and B on each of the 2 layers' c_attn, nothing
        // else; full fine-tuning casts at least every block's 4 weights and the tied head.
        Assert.Equal(2 * 2, figures.GetProperty("method_step_weight_casts").GetInt64());
        Assert.True(figures.GetProperty("full_step_weight_casts").GetInt64() >= 2 * 4 + 1, r.Stdout);
    }

    [Fact]
    public void LoRA_training_takes_less_memory_than_full_fine_tuning_on_small_and_runs_record_theirs()
    {
        // Short sequences keep the activations (and the process peak's run-to-run spread, tens of MiB at the default 8 × 128) small beside
        // what full fine-tuning adds: a gradient and two AdamW moments for every weight (small: 2.6M × 12 bytes ≈ 30 MiB).
        // Measured: full 45–75 MiB, LoRA 8–9.
        var r = CliRunner.Run("bench", "method", "--method", "lora", "--preset", "small", "--batch-size", "2", "--block-size", "32",
            "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        double full = figures.GetProperty("full_step_memory_mib").GetDouble();
        double lora = figures.GetProperty("method_step_memory_mib").GetDouble();
        Assert.True(full > 0 && lora > 0, r.Stdout);
        Assert.True(lora < full, $"LoRA {lora} MiB, full {full} MiB");

        using var dir = new TempDir();
        var run = CliRunner.Run("run", Experiments.Write(dir, "classification", "sst2"), "--set", $"output={dir["run"]}");
        Assert.True(run.ExitCode == 0, run.Stderr);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement;
        Assert.True(summary.GetProperty("training_memory_mb").GetDouble() > 0);
    }

    [Fact]
    public void Bench_train_measures_both_precisions_in_one_run_against_each_ones_peak()
    {
        var r = CliRunner.Run("bench", "train", "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--block-size", "16", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        foreach (var p in new[] { "fp32", "bf16" })
        {
            Assert.True(figures.GetProperty($"{p}_train_tokens_per_s").GetDouble() > 0);
            Assert.True(figures.GetProperty($"{p}_matmul_peak_gflops").GetDouble() > 0);
        }
        Assert.True(figures.GetProperty("bf16_over_fp32_tokens_per_s").GetDouble() > 0);
    }

    [Fact]
    public void Bench_hooks_and_profile_report_what_they_measured()
    {
        var hooks = CliRunner.Run("bench", "hooks", "--preset", "tiny", "--batch-size", "2", "--precision", "fp32", "--json");
        Assert.True(hooks.ExitCode == 0, hooks.Stderr);
        var h = JsonDocument.Parse(hooks.Stdout).RootElement;
        Assert.True(h.GetProperty("step_ms_with_empty_hooks").GetDouble() > 0 && h.GetProperty("step_ms_without_hooks").GetDouble() > 0);
        var profile = CliRunner.Run("bench", "profile", "--preset", "tiny", "--batch-size", "2", "--precision", "fp32", "--json");
        Assert.True(profile.ExitCode == 0, profile.Stderr);
        var p = JsonDocument.Parse(profile.Stdout).RootElement;
        Assert.True(p.GetProperty("backward_ms").GetDouble() > 0);
        Assert.Contains("of the ops", p.GetProperty("forward: LM head (tied wte)").GetString());
        // Every op kind of a step has its backward row, so the rows account for the step's backward (the vocabulary's
        // cross-entropy was the largest unlisted one).
        foreach (var op in new[] { "embedding lookup", "layer norm × 5", "attention out projection × 2",
                                   "cross-entropy over the vocabulary" })
            Assert.EndsWith(" ms", p.GetProperty($"backward: {op}").GetString());
    }

    [Fact]
    public void Bench_profile_of_a_llama_preset_times_its_own_ops()
    {
        var profile = CliRunner.Run("bench", "profile", "--preset", "llama-tiny", "--batch-size", "2", "--precision", "fp32", "--json");
        Assert.True(profile.ExitCode == 0, profile.Stderr);
        var p = JsonDocument.Parse(profile.Stdout).RootElement;
        // RMS norm, rotary positions, both SwiGLU projections and the gate·up product, not GPT-2's layer norm and activation.
        foreach (var op in new[] { "RMS norm × 5", "rotary positions (q and k) × 2", "MLP gate and up (gate_proj, up_proj) × 4",
                                   "silu(gate) · up × 2", "MLP down (down_proj) × 2", "LM head (lm_head)" })
            Assert.EndsWith(" ms", p.GetProperty($"backward: {op}").GetString());
        Assert.False(p.TryGetProperty("forward: layer norm × 5", out _));
    }

    [Fact]
    public void Bench_takes_the_peers_activation_records_it_and_profiles_the_one_the_model_runs()
    {
        var train = CliRunner.Run("bench", "train", "--preset", "tiny", "--steps", "1", "--batch-size", "2", "--block-size", "16",
            "--precision", "fp32", "--activation", "gelu", "--json");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Equal("gelu", JsonDocument.Parse(train.Stdout).RootElement.GetProperty("activation").GetString());
        var profile = CliRunner.Run("bench", "profile", "--preset", "tiny", "--batch-size", "2", "--precision", "fp32",
            "--activation", "relu", "--json");
        Assert.True(profile.ExitCode == 0, profile.Stderr);
        Assert.EndsWith(" ms", JsonDocument.Parse(profile.Stdout).RootElement.GetProperty("backward: relu × 2").GetString());
        // The Llama family's MLP is SwiGLU: another activation is refused in one line naming the field.
        var llama = CliRunner.Run("bench", "train", "--preset", "llama-tiny", "--steps", "1", "--activation", "gelu", "--json");
        Assert.Equal(2, llama.ExitCode);
        Assert.StartsWith("error: --activation: hidden_act", llama.Stderr);
        Assert.DoesNotContain("   at ", llama.Stderr);
    }
}
