using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>The Llama family through the command line: a converted llama2.c model, PEFT's counts for its defaults, every method
/// on the Llama preset, and a model named by a Hugging Face cache reference.</summary>
public class LlamaCliTests
{
    static string Fixture(params string[] parts) =>
        Path.Combine([CliRunner.RepoRoot, "tests", "Core.Tests", "Fixtures", "llama", .. parts]);
    static string Stories => Path.Combine(CliRunner.RepoRoot, "models", "stories260K");

    [Fact]
    public void Convert_llama2c_then_generate_prints_what_run_c_prints()
    {
        using var dir = new TempDir();
        var converted = CliRunner.Run("convert", "llama2c", Fixture("stories260K", "stories260K.bin"),
            "--tokenizer", Fixture("stories260K", "tok512.bin"), "--out", dir["model"]);
        Assert.True(converted.ExitCode == 0, converted.Stderr);
        Assert.Contains("260,032 parameters", converted.Stdout);
        using var reference = JsonDocument.Parse(File.ReadAllText(Fixture("stories260K-runc.json")));
        foreach (var run in reference.RootElement.GetProperty("prompts").EnumerateArray().Take(3))
        {
            var prompt = run.GetProperty("prompt").GetString()!;
            // fp32: run.c computes in fp32 (under --precision auto a CPU with bf16 would round differently and may pick another token)
            var r = CliRunner.Run("generate", "--model", dir["model"], "--prompt", prompt, "--max-new-tokens", "40", "--greedy",
                "--precision", "fp32");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.StartsWith(r.Stdout.TrimEnd(), run.GetProperty("printed_text").GetString());
        }
        // The shipped folder is this conversion.
        Assert.Equal(File.ReadAllBytes(Path.Combine(Stories, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(dir["model"], "model.safetensors")));
        var again = CliRunner.Run("convert", "llama2c", Fixture("stories260K", "stories260K.bin"), "--tokenizer", "missing.bin",
            "--out", dir["b"]);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("missing.bin", again.Stderr);
    }

    // PEFT's defaults for llama (peft/utils/constants.py): LoRA q_proj, v_proj; (IA)³ k_proj, v_proj, down_proj (down_proj feed-forward).
    // stories260K: d = 64, 8 heads of 8, 4 key-value heads (k/v out 32), SwiGLU 172, 5 layers, 260,032 parameters.
    //   LoRA r=8: per layer q 8·(64 + 64) + v 8·(64 + 32) = 1,792 → 8,960.
    //   (IA)³: per layer k 32 + v 32 + down_proj's input 172 = 236 → 1,180.
    //   Prefix tuning, 20 virtual tokens, no projection: 20 · 5 layers · 2 · (4 kv heads · 8) = 6,400 (PEFT sizes token_dim by the
    //   key-value heads).
    //   With prefix_projection: Embedding(20, 32) + Linear(32 → 32) + Linear(32 → 5 · 2 · 32): 640 + 1,056 + 10,560 = 12,256 (PEFT's
    //   encoder_hidden_size defaults to token_dim, the kv-wide 32).
    //   Prompt tuning, 20 tokens: 20 · 64 = 1,280.
    [Theory]
    [InlineData("lora", "r=8", 8_960)]
    [InlineData("ia3", "init_ia3_weights=true", 1_180)]
    [InlineData("prefix", "num_virtual_tokens=20", 6_400)]
    [InlineData("prefix", "prefix_projection=true", 12_256)]
    [InlineData("prompt", "num_virtual_tokens=20", 1_280)]
    public void Inspect_on_a_llama_folder_gives_PEFTs_counts_for_its_defaults(string method, string option, long trainable)
    {
        var r = CliRunner.Run("inspect", "--model", Stories, "--method", method, "--set", option, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(trainable, json.GetProperty("trainableParameters").GetInt64());
        Assert.Equal(260_032 + trainable, json.GetProperty("totalParameters").GetInt64());
    }

    [Theory]
    [InlineData("full")]
    [InlineData("probe")]
    [InlineData("lora")]
    [InlineData("ia3")]
    [InlineData("adapters")]
    [InlineData("prompt")]
    [InlineData("p-tuning")]
    [InlineData("prefix")]
    public void Every_method_trains_and_reloads_on_the_llama_preset(string method)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", "model.preset=llama-tiny", "--set", $"method.name={method}",
            "--set", "training.epochs=1", "--set", $"output={dir["run"]}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement.GetProperty("metrics");
        var again = CliRunner.Run("evaluate", dir["run"], "--json");
        Assert.True(again.ExitCode == 0, again.Stderr);
        var reloaded = JsonDocument.Parse(again.Stdout).RootElement;
        Assert.Equal(saved.GetProperty("accuracy").GetDouble(), reloaded.GetProperty("accuracy").GetDouble(), 12);
    }

    [Theory]
    [InlineData("""{"name": "pet"}""")]
    [InlineData("""{"name": "text-to-text"}""")]
    [InlineData("""{"name": "in-context", "options": {"k": 4, "verbalizer": ["bad", "good"], "template": "{0} it was {label}"}}""")]
    public void Every_objective_runs_on_a_real_llama_with_its_own_tokenizer(string objective)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", "model.preset=null", "--set", $"model.path={Stories}",
            "--set", "model.tokenizer=null", "--set", $"objective={objective}", "--set", "training.epochs=1",
            "--set", $"output={dir["run"]}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement.GetProperty("metrics");
        Assert.InRange(metrics.GetProperty("accuracy").GetDouble(), 0, 1);
    }

    [Fact]
    public void A_lora_run_on_a_llama_exports_merged_as_a_plain_llama_folder()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", "model.preset=null", "--set", $"model.path={Stories}",
            "--set", "model.tokenizer=null", "--set", "method.name=lora", "--set", "training.epochs=1", "--set", $"output={dir["run"]}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var export = CliRunner.Run("export", dir["run"], "--merged", dir["merged"]);
        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.False(File.Exists(Path.Combine(dir["merged"], "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir["merged"], "tokenizer.json")));
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["merged"], "config.json"))).RootElement;
        Assert.Equal("llama", config.GetProperty("model_type").GetString());
        // The base and its 4 appended special-token rows, nothing of LoRA's.
        var inspect = CliRunner.Run("inspect", "--model", dir["merged"], "--json");
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        Assert.Equal(260_032 + 4 * 64, JsonDocument.Parse(inspect.Stdout).RootElement.GetProperty("totalParameters").GetInt64());
        var generated = CliRunner.Run("generate", "--model", dir["merged"], "--prompt", "Once upon a time", "--max-new-tokens", "5");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        Assert.StartsWith("Once upon a time", generated.Stdout);
    }

    [Fact]
    public void Bad_llama_folders_are_one_line_naming_the_file_and_field_with_exit_code_2()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["unknown"]);
        File.WriteAllText(Path.Combine(dir["unknown"], "config.json"), """{"model_type": "mamba", "hidden_size": 64}""");
        var unknown = CliRunner.Run("inspect", "--model", dir["unknown"]);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("config.json", unknown.Stderr);
        Assert.Contains("model_type", unknown.Stderr);
        Assert.Single(unknown.Stderr.Trim().Split('\n'));

        // A tokenizer with more pieces than the model has rows: the 96-token golden Llama with stories260K's 512-piece tokenizer.
        Directory.CreateDirectory(dir["foreign"]);
        foreach (var file in Directory.GetFiles(Fixture("gqa-untied")))
            File.Copy(file, Path.Combine(dir["foreign"], Path.GetFileName(file)));
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(Stories, file), Path.Combine(dir["foreign"], file));
        var foreign = CliRunner.Run("generate", "--model", dir["foreign"], "--prompt", "Once", "--max-new-tokens", "2");
        Assert.Equal(2, foreign.ExitCode);
        Assert.Contains("tokenizer.json", foreign.Stderr);
        Assert.Contains("vocab_size", foreign.Stderr);
    }

    [Fact]
    public void Verify_passes_every_method_on_the_llama_preset()
    {
        var r = CliRunner.Run("verify", "--all", "--preset", "llama-tiny", "--json");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.DoesNotContain("\"fail\"", r.Stdout);
    }

    [Fact]
    public void A_hub_reference_resolves_from_the_cache_offline_and_names_what_is_missing()
    {
        using var dir = new TempDir();
        const string commit = "0123456789abcdef0123456789abcdef01234567";
        var repo = Path.Combine(dir["hub"], "models--karpathy--stories260K");
        var snapshot = Path.Combine(repo, "snapshots", commit);
        Directory.CreateDirectory(snapshot);
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), commit);
        foreach (var file in Directory.GetFiles(Stories)) File.Copy(file, Path.Combine(snapshot, Path.GetFileName(file)));
        var environment = new Dictionary<string, string> { ["HF_HUB_CACHE"] = dir["hub"], ["HF_HUB_OFFLINE"] = "1" };
        var r = CliRunner.RunWith(environment, "inspect", "--model", "hf:karpathy/stories260K", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(260_032, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("totalParameters").GetInt64());
        var missing = CliRunner.RunWith(environment, "inspect", "--model", "hf:karpathy/other", "--json");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("karpathy/other", missing.Stderr);
        Assert.Single(missing.Stderr.Trim().Split('\n'));
    }
}
