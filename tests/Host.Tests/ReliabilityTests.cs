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
}
