using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using PluginGpt.Runs;
using Xunit;
using static PluginGpt.Host.Tests.CliTests;

namespace PluginGpt.Host.Tests;

/// <summary>Runs never share or escape their folders, never look finished when they are not, and stop on a diverged loss.</summary>
public class RunSafetyTests(TinyModelFolder model) : IClassFixture<TinyModelFolder>
{
    static readonly string Experiment = Path.Combine(CliRunner.RepoRoot, "experiments", "full-sst2-tiny.json");

    static string[] Small(string output) =>
        ["--set", "task.max_train=16", "--set", "task.max_dev=8", "--set", "training.epochs=1", "--set", "training.batch_size=8",
            "--set", $"output={output}"];

    [Fact]
    public void A_default_folder_name_stays_inside_runs_and_a_taken_one_gets_a_suffix()
    {
        Assert.Equal("escaped", OutputFolder.SafeName("../escaped"));
        Assert.Equal("a-b", OutputFolder.SafeName("a/b"));
        Assert.Equal("tmp-x", OutputFolder.SafeName("/tmp/x"));
        using var dir = new TempDir();
        var wanted = dir["run"];
        using var first = OutputFolder.Claim(wanted, "output", unique: true);
        using var second = OutputFolder.Claim(wanted, "output", unique: true);   // the first still holds it (same second)
        Assert.Equal(wanted, first.Directory);
        Assert.Equal(wanted + "-2", second.Directory);
        // A name the user chose is never suffixed: it is refused while another run holds it.
        Assert.ThrowsAny<PluginGpt.Abstractions.OptionsException>(() => OutputFolder.Claim(wanted, "output", unique: false));
    }

    [Fact]
    public void Epochs_that_overflow_the_step_count_are_refused()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run(["run", Experiment, .. Small(dir["run"]), "--set", "training.epochs=2000000000", "--set",
            "training.batch_size=1"]);
        OneLineError(r, "training.epochs");
        Assert.False(File.Exists(Path.Combine(dir["run"], "metrics.json")));
    }

    [Fact]
    public void An_unfinished_run_is_not_evaluated_or_used_for_predictions()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        Assert.Equal(0, CliRunner.Run(["run", Experiment, .. Small(run)]).ExitCode);
        File.Delete(Path.Combine(run, "metrics.json"));   // as an interrupted run leaves it
        OneLineError(CliRunner.Run("evaluate", run), "did not finish");
        var input = dir["in.txt"];
        File.WriteAllText(input, "a fine film\n");
        OneLineError(CliRunner.Run("predict", run, "--input", input), "did not finish");
    }

    [Fact]
    public void A_run_whose_loss_goes_non_finite_stops_naming_the_step()
    {
        using var dir = new TempDir();
        var poisoned = model.CopyTo(dir, "model");
        Poison(Path.Combine(poisoned, "model.safetensors"), "ln_f.weight");
        var run = dir["run"];
        var r = CliRunner.Run(["run", Experiment, .. Small(run), "--set", $"model.path={poisoned}", "--set", "model.preset=null",
            "--set", "model.tokenizer=null"]);
        OneLineError(r, "step 1 (epoch 1): the training loss is NaN");
        Assert.False(File.Exists(Path.Combine(run, "metrics.json")));
    }

    /// <summary>Overwrites one tensor of a safetensors file with NaN (float32), in place.</summary>
    static void Poison(string path, string tensor)
    {
        var bytes = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength)).RootElement;
        var offsets = header.GetProperty(tensor).GetProperty("data_offsets");
        int start = 8 + headerLength + offsets[0].GetInt32(), end = 8 + headerLength + offsets[1].GetInt32();
        for (int i = start; i < end; i += 4) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i), float.NaN);
        File.WriteAllBytes(path, bytes);
    }
}
