using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;
using static PluginGpt.Host.Tests.CliTests;

namespace PluginGpt.Host.Tests;

/// <summary>A tiny pre-trained model folder, made once for the reliability tests (each test works on its own copy).</summary>
public sealed class TinyModelFolder : IDisposable
{
    readonly TempDir dir = new();
    public string Path { get; }

    public TinyModelFolder()
    {
        Path = dir["model"];
        var r = CliRunner.Run("pretrain", "--preset", "tiny", "--corpus", Corpus, "--out", Path, "--max-steps", "2", "--batch-size", "2",
            "--eval-interval", "1", "--tokenizer", System.IO.Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k"));
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    public static string Corpus => System.IO.Path.Combine(CliRunner.RepoRoot, "data", "corpus", "sst2-sentences.txt");

    /// <summary>A copy of the model in <paramref name="into"/>.</summary>
    public string CopyTo(TempDir into, string name)
    {
        var target = into[name];
        foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
        {
            var to = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(Path, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    public void Dispose() => dir.Dispose();
}

/// <summary>The hostile-input trial's classes (issue 13): every one a single line naming the file or field, exit code 2, and
/// nothing of the user's damaged.</summary>
public class ReliabilityTests(TinyModelFolder model) : IClassFixture<TinyModelFolder>
{
    [Fact]
    public void Tokenizer_training_never_replaces_a_models_tokenizer_without_overwrite()
    {
        using var dir = new TempDir();
        var copy = model.CopyTo(dir, "model");
        var vocab = File.ReadAllText(Path.Combine(copy, "vocab.json"));
        OneLineError(CliRunner.Run("tokenizer", "train", "--corpus", TinyModelFolder.Corpus, "--vocab-size", "300", "--out", copy),
            "--overwrite");
        Assert.Equal(vocab, File.ReadAllText(Path.Combine(copy, "vocab.json")));
    }

    [Theory]
    [InlineData("trainer_state.json", "{}", "Step")]
    [InlineData("trainer_state.json", "{\"Step\": -5}", "Step")]
    [InlineData("optimizer.bin", "garbage", "optimizer.bin")]
    public void A_damaged_checkpoint_file_is_named_when_resuming(string file, string content, string expected)
    {
        using var dir = new TempDir();
        var copy = model.CopyTo(dir, "model");
        var path = Path.Combine(copy, "checkpoint", file);
        File.WriteAllText(path, content);
        var r = CliRunner.Run("pretrain", "--out", copy, "--resume", "--max-steps", "2");
        OneLineError(r, path);
        Assert.Contains(expected, r.Stderr);
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void Pretrain_refuses_a_folder_that_is_not_its_own_and_a_diverging_learning_rate()
    {
        using var dir = new TempDir();
        var copy = model.CopyTo(dir, "model");
        File.Delete(Path.Combine(copy, "checkpoint", "trainer_state.json"));
        Directory.Delete(Path.Combine(copy, "checkpoint"), recursive: true);   // a model folder (e.g. Hugging Face's): no checkpoint
        var weights = File.ReadAllBytes(Path.Combine(copy, "model.safetensors"));
        OneLineError(CliRunner.Run("pretrain", "--preset", "tiny", "--corpus", TinyModelFolder.Corpus, "--out", copy, "--max-steps", "2"),
            "--overwrite");
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(copy, "model.safetensors")));
        OneLineError(CliRunner.Run("pretrain", "--preset", "tiny", "--out", dir["new"], "--lr", "100"), "lr");
        OneLineError(CliRunner.Run("pretrain", "--preset", "tiny", "--out", dir["new"], "--warmup-steps", "-1"), "warmup-steps");
        Assert.False(Directory.Exists(dir["new"]));
    }

    /// <summary>Rewrites a safetensors file's JSON header (the data section stays as it is).</summary>
    static void RewriteHeader(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length))!.AsObject();
        edit(header);
        var text = Encoding.UTF8.GetBytes(header.ToJsonString());
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)text.Length);
        File.WriteAllBytes(path, [.. prefix, .. text, .. bytes[(8 + length)..]]);
    }

    [Theory]
    [InlineData("overlap", "overlaps")]
    [InlineData("dtype", "not a floating-point weight")]
    [InlineData("shifted", "expected")]
    public void Weights_are_read_as_strictly_as_safetensors_itself_reads_them(string damage, string expected)
    {
        using var dir = new TempDir();
        var copy = model.CopyTo(dir, "model");
        var weights = Path.Combine(copy, "model.safetensors");
        RewriteHeader(weights, header =>
        {
            var ln = header["h.0.ln_1.weight"]!.AsObject();
            switch (damage)
            {
                case "overlap": header["h.0.ln_1.bias"]!["data_offsets"] = ln["data_offsets"]!.DeepClone(); break;
                case "dtype": ln["dtype"] = "I32"; break;
                default:
                    var offsets = ln["data_offsets"]!.AsArray();
                    ln["data_offsets"] = new JsonArray((long)offsets[0]! + 4, (long)offsets[1]! + 4);
                    break;
            }
        });
        OneLineError(CliRunner.Run("generate", "--model", copy, "--prompt", "the movie", "--max-new-tokens", "2"), expected);
        OneLineError(CliRunner.Run("inspect", "--model", copy), weights);
    }

    [Fact]
    public void A_tokenizer_or_config_that_does_not_fit_the_weights_is_named_at_load_time()
    {
        using var dir = new TempDir();
        var foreign = model.CopyTo(dir, "foreign-tokenizer");
        foreach (var file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "gpt2", file), Path.Combine(foreign, file), overwrite: true);
        OneLineError(CliRunner.Run("generate", "--model", foreign, "--prompt", "Hello world, the zebra"), "belongs to another model");

        var epsilon = model.CopyTo(dir, "epsilon");
        var config = Path.Combine(epsilon, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json["layer_norm_epsilon"] = -1;
        File.WriteAllText(config, json.ToJsonString());
        OneLineError(CliRunner.Run("generate", "--model", epsilon, "--prompt", "the movie"), "layer_norm_epsilon");
    }

    [Theory]
    [InlineData("""{"runtimeTarget": {}, "targets": {}}""", "runtimeTarget has no name")]
    [InlineData("""{"runtimeTarget": {"name": "x"}, "targets": {}}""", "targets has no 'x'")]
    [InlineData("""{"runtimeTarget": "x", "targets": {"x": {"P/1.0": {"runtime": {"P.dll": 3}}}}}""", "is not an object")]
    [InlineData("""{"runtimeTarget": "x", "targets": {"x": {"P/1.0": {}}}, "libraries": {"P/1.0": {"type": 1}}}""", "no type")]
    public void A_plugin_with_a_malformed_dependency_manifest_is_skipped_with_one_warning(string manifest, string expected)
    {
        using var dir = new TempDir();
        var plugin = dir["plugins/IA3x"];
        Directory.CreateDirectory(plugin);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(CliRunner.RepoRoot, "artifacts", "plugins", "IA3")))
            File.Copy(file, Path.Combine(plugin, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(plugin, "PluginGpt.Plugins.IA3.deps.json"), manifest);
        var r = CliRunner.Run("--plugins", dir["plugins"], "plugins");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("PluginGpt.Plugins.IA3.deps.json", r.Stderr);
        Assert.Contains(expected, r.Stderr);
        Assert.Contains("lora", r.Stdout);   // every other plugin still loads
    }

    [Fact]
    public void Inputs_that_would_be_ignored_are_refused()
    {
        OneLineError(CliRunner.Run("generate", "--model", model.Path, "--prompt", "the movie", "--stop", ""), "--stop");
        var badTemperature = CliRunner.Run("generate", "--model", model.Path, "--prompt", "the movie", "--temperature", "-1");
        OneLineError(badTemperature, "temperature");
        Assert.Equal("", badTemperature.Stdout);   // nothing echoed before the error
        OneLineError(CliRunner.Run("inspect", "--model", "tiny", "--set", "r=8"), "--method");
        var env = CliRunner.RunWith(new() { ["PLUGINGPT_PLUGINS"] = "/nonexistent-plugin-folder" }, "plugins");
        OneLineError(env, "PLUGINGPT_PLUGINS");
    }

    [Fact]
    public async Task A_second_process_is_refused_the_folder_a_running_pretrain_holds()
    {
        using var dir = new TempDir();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"), "pretrain", "--preset", "tiny", "--max-steps", "100000",
            "--batch-size", "2", "--block-size", "16", "--eval-interval", "100000", "--out", dir["model"],
        })
            start.ArgumentList.Add(a);
        using var first = Process.Start(start)!;
        try
        {
            string? line;
            while ((line = await first.StandardOutput.ReadLineAsync()) is not null && !line.Contains("step 1/")) { }
            Assert.NotNull(line);
            // Another process: its own view of the owner's start time must still recognise the owner as alive.
            var second = CliRunner.Run("pretrain", "--preset", "tiny", "--out", dir["model"], "--overwrite", "--max-steps", "2");
            OneLineError(second, $"in use by another plugingpt process (pid {first.Id})");
            Assert.False(first.HasExited);
        }
        finally { first.Kill(true); }
    }
}
