using System.Diagnostics;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using TorchSharp;
using static PluginGpt.Core.Tests.PretrainTests;

namespace PluginGpt.Core.Tests;

/// <summary>What pre-training must never do to the user's work: write into a folder it does not own, share one with another
/// process, resume as a different run, lose a checkpoint to a crash mid-swap, train on a damaged cache, or finish
/// "successfully" after diverging.</summary>
public class PretrainSafetyTests
{
    [Fact]
    public void A_folder_that_holds_something_else_is_refused_and_replaced_only_with_overwrite()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        var foreign = dir["hf-model"];
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "model.safetensors"), "someone's weights");
        var e = Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "hf-model", 2)));
        Assert.Contains("--overwrite", e.Message);
        Assert.Equal("someone's weights", File.ReadAllText(Path.Combine(foreign, "model.safetensors")));
        Assert.Equal(["model.safetensors"], Directory.EnumerateFileSystemEntries(foreign).Select(Path.GetFileName));   // nor the lock

        Pretrainer.Run(Options(dir, corpus, "hf-model", 2) with { Overwrite = true });
        Assert.True(File.Exists(Path.Combine(foreign, Pretrainer.CheckpointDir, "trainer_state.json")));
        Assert.NotEqual("someone's weights", File.ReadAllText(Path.Combine(foreign, "model.safetensors")));
    }

    [Fact]
    public void Overwrite_empties_only_a_pre_training_folder_and_never_what_it_did_not_write()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        var mixed = dir["mixed"];
        Directory.CreateDirectory(Path.Combine(mixed, "src"));   // e.g. the working directory, or a project beside the weights
        File.WriteAllText(Path.Combine(mixed, "model.safetensors"), "old weights");
        File.WriteAllText(Path.Combine(mixed, "src", "Program.cs"), "someone's code");
        var e = Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "mixed", 2) with { Overwrite = true }));
        Assert.Contains("src", e.Message);
        Assert.Contains("did not write", e.Message);
        Assert.Equal("someone's code", File.ReadAllText(Path.Combine(mixed, "src", "Program.cs")));
        Assert.Equal("old weights", File.ReadAllText(Path.Combine(mixed, "model.safetensors")));
    }

    [Fact]
    public void What_a_run_that_failed_before_its_first_checkpoint_left_does_not_block_the_corrected_command()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        var output = dir["failed"];
        // A start that trained its tokenizer and token cache, then failed: the marker is still there, no checkpoint.
        Directory.CreateDirectory(Path.Combine(output, Pretrainer.TokensDir));
        File.WriteAllText(Path.Combine(output, Pretrainer.UnfinishedMarker), "");
        File.WriteAllText(Path.Combine(output, "vocab.json"), "{}");
        File.WriteAllText(Path.Combine(output, "merges.txt"), "");
        Pretrainer.Run(Options(dir, corpus, "failed", 2));
        Assert.True(File.Exists(Path.Combine(output, Pretrainer.CheckpointDir, "trainer_state.json")));
        Assert.False(File.Exists(Path.Combine(output, Pretrainer.UnfinishedMarker)));

        // The same files without the marker are someone's model folder: refused as before.
        var theirs = dir["theirs"];
        Directory.CreateDirectory(theirs);
        File.WriteAllText(Path.Combine(theirs, "vocab.json"), "{}");
        Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "theirs", 2)));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(theirs, "vocab.json")));
    }

    [Fact]
    public void A_folder_in_use_is_refused_and_a_dead_processs_lock_is_reported_and_taken_over()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        using (OutputLock.Acquire(dir["busy"], "--out"))
        {
            var e = Assert.Throws<FolderInUseException>(() => Pretrainer.Run(Options(dir, corpus, "busy", 2)));
            Assert.Contains($"pid {Environment.ProcessId}", e.Message);
            Assert.Contains("in use by this command", e.Message);   // its own lock is not "another process"
        }

        using var finished = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        finished.WaitForExit();
        Directory.CreateDirectory(dir["stale"]);
        File.WriteAllText(Path.Combine(dir["stale"], OutputLock.FileName), $"{finished.Id} 1");
        var notes = new List<string>();
        Pretrainer.Run(Options(dir, corpus, "stale", 2), new Synchronous(p => { if (p.Message is { } m) notes.Add(m); }));
        Assert.Contains(notes, n => n.Contains($"lock of process {finished.Id}") && n.Contains("no longer runs"));
        Assert.False(File.Exists(Path.Combine(dir["stale"], OutputLock.FileName)));
    }

    [Fact]
    public void Resume_survives_a_crash_mid_swap_a_torn_metrics_line_and_a_truncated_token_cache_and_stays_exact()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        Pretrainer.Run(Options(dir, corpus, "straight", 8));
        using var cancel = new CancellationTokenSource();
        Pretrainer.Run(Options(dir, corpus, "resumed", 8) with { CheckpointInterval = 2 },
            new Synchronous(p => { if (p.Step == 4) cancel.Cancel(); }), cancel.Token);
        var run = dir["resumed"];
        var checkpoint = Path.Combine(run, Pretrainer.CheckpointDir);
        // The crash came between the swap's two renames: the old checkpoint moved aside, the complete new one not yet in place.
        Directory.Move(checkpoint, checkpoint + ".new");
        File.WriteAllText(Path.Combine(checkpoint + ".new", ".complete"), "");
        Directory.CreateDirectory(checkpoint + ".old");
        File.AppendAllText(Path.Combine(run, "metrics.jsonl"), "{\"step\": 5, \"lo");   // torn by the crash
        var tokens = Directory.GetFiles(Path.Combine(run, Pretrainer.TokensDir), "*.tokens").Single();
        File.WriteAllBytes(tokens, File.ReadAllBytes(tokens)[..1000]);   // truncated cache

        // A fresh run must not take the folder (nor delete the checkpoint it holds).
        var fresh = Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "resumed", 8)));
        Assert.Contains("--resume", fresh.Message);
        Assert.True(Directory.Exists(checkpoint));

        var notes = new List<string>();
        Pretrainer.Run(Options(dir, corpus, "resumed", 8) with { Resume = true, CheckpointInterval = 2 },
            new Synchronous(p => { if (p.Message is { } m) notes.Add(m); }));
        Assert.Contains(notes, n => n.Contains("checksum"));
        var straight = Losses(dir["straight"]);
        var resumed = Losses(run);
        Assert.Equal(8, resumed.Length);
        for (int i = 0; i < 8; i++) Assert.Equal(straight[i], resumed[i], 6);
        Assert.False(Directory.Exists(checkpoint + ".old"));
        Assert.False(Directory.Exists(checkpoint + ".new"));
    }

    [Fact]
    public void Resume_keeps_the_runs_own_options_and_refuses_different_ones()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        using var cancel = new CancellationTokenSource();
        Pretrainer.Run(Options(dir, corpus, "run", 6), new Synchronous(p => { if (p.Step == 3) cancel.Cancel(); }), cancel.Token);
        var stored = Pretrainer.StoredOptions(dir["run"])!;
        Assert.Equal(3e-3, stored.LearningRate);
        Assert.Equal(6, stored.MaxSteps);
        var e = Assert.Throws<OptionsException>(() =>
            Pretrainer.Run(Options(dir, corpus, "run", 6) with { Resume = true, LearningRate = 1e-2 }));
        Assert.StartsWith("--lr: this run was started with 0.003, not 0.01", e.Message);
        Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "run", 12) with { Resume = true }));
        // Intervals may change: the resumed run is the same run.
        var result = Pretrainer.Run(Options(dir, corpus, "run", 6) with { Resume = true, EvalInterval = 2 });
        Assert.Equal(6, result.Steps);
    }

    [Fact]
    public void Training_that_goes_non_finite_stops_with_the_step_named()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        Pretrainer.Run(Options(dir, corpus, "base", 1));
        var path = Path.Combine(dir["base"], GptCheckpoint.WeightsFile);
        using (var model = new Decoder(GptCheckpoint.ReadConfig(dir["base"])))
        {
            GptCheckpoint.LoadWeights(model, path);
            using (torch.no_grad()) model.named_parameters().First(p => p.name.StartsWith("ln_f")).parameter.fill_(double.NaN);
            GptCheckpoint.Save(model, dir["base"]);
        }
        var e = Assert.Throws<TrainingDivergedException>(() =>
            Pretrainer.Run(Options(dir, corpus, "nan", 4) with { InitFrom = dir["base"] }));
        Assert.StartsWith("step 1: the training loss is NaN", e.Message);
        Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "lr", 4) with { LearningRate = 100 }));
        Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "warmup", 4) with { WarmupSteps = -1 }));
    }
}
