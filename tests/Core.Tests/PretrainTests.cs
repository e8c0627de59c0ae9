using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Core.Tests;

public class PretrainTests
{
    internal sealed class Synchronous(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    internal static string SmallCorpus(TempDir dir)
    {
        var path = dir["corpus.txt"];
        File.WriteAllText(path, File.ReadAllText(RepoPaths.Data("corpus", "tinyshakespeare.txt"))[..60_000]);
        return path;
    }

    internal static PretrainOptions Options(TempDir dir, string corpus, string name, int steps) => new()
    {
        Preset = "tiny",
        Corpus = [corpus],
        OutputDirectory = dir[name],
        MaxSteps = steps,
        BatchSize = 4,
        BlockSize = 32,
        EvalInterval = 3,
        EvalBatches = 2,
        CheckpointInterval = 100,
        WarmupSteps = 2,
        Dropout = 0.1,
        LearningRate = 3e-3,
        Precision = "fp32",   // exact comparisons; bf16 has its own test
    };

    internal static double[] Losses(string runDir) => File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl"))
        .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();

    [Fact]
    public void Resumed_run_continues_exactly_like_an_uninterrupted_one()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        Pretrainer.Run(Options(dir, corpus, "straight", 8));

        using var cancel = new CancellationTokenSource();
        var interrupted = Pretrainer.Run(Options(dir, corpus, "resumed", 8), new Synchronous(p => { if (p.Step == 4) cancel.Cancel(); }),
            cancel.Token);
        Assert.Equal(4, interrupted.Steps);
        Pretrainer.Run(Options(dir, corpus, "resumed", 8) with { Resume = true });

        var straight = Losses(dir["straight"]);
        var resumed = Losses(dir["resumed"]);
        Assert.Equal(8, resumed.Length);
        for (int i = 0; i < 8; i++) Assert.Equal(straight[i], resumed[i], 6);
    }

    [Fact]
    public void Held_out_loss_falls_and_the_folder_is_a_loadable_model()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        var result = Pretrainer.Run(Options(dir, corpus, "run", 60) with { EvalInterval = 20, Dropout = 0 });
        Assert.Equal(3, result.ValidationCurve.Count);
        // (Speeches are documents, each closed by one end-of-text token where "\n\n" gave two easy ones: ~0.1 nat higher.)
        Assert.True(result.ValidationCurve[^1].Loss < Math.Log(512) - 0.8,
            $"held-out loss {result.ValidationCurve[^1].Loss} should fall well below ln(512)");
        Assert.True(result.ValidationCurve[^1].Loss < result.ValidationCurve[0].Loss);

        using var model = GptCheckpoint.Load(dir["run"]);
        var tokenizer = GptTokenizer.Load(dir["run"]);
        var text = tokenizer.Decode(TokenGenerator.Generate(model, tokenizer.Encode("ROMEO:"),
            new GenerationOptions { Greedy = true, MaxNewTokens = 10 }));
        Assert.False(string.IsNullOrEmpty(text));
    }

    [Fact]
    public void A_300_step_pretraining_in_bf16_ends_within_3_percent_of_fp32s_held_out_loss()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        double HeldOut(string precision) => Pretrainer.Run(Options(dir, corpus, precision, 300) with
        {
            Precision = precision,
            EvalInterval = 300,
            EvalBatches = 8,
            Dropout = 0,
            CheckpointInterval = 1000,
        }).FinalValidationLoss!.Value;
        double fp32 = HeldOut("fp32"), bf16 = HeldOut("bf16");
        Assert.True(fp32 < Math.Log(512) - 1.5, $"fp32 must learn something first: {fp32}");
        Assert.InRange(bf16, fp32 * 0.97, fp32 * 1.03);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["bf16"], GptCheckpoint.ConfigFile))).RootElement;
        Assert.Equal("float32", config.GetProperty("torch_dtype").GetString());   // checkpoints stay fp32 master weights
    }

    [Fact]
    public void Continued_pretraining_starts_from_the_models_weights_and_keeps_its_tokenizer()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        Pretrainer.Run(Options(dir, corpus, "base", 60) with { EvalInterval = 60 });
        double First(PretrainOptions o) => Pretrainer.Run(o with { MaxSteps = 1, EvalInterval = 1 }).ValidationCurve[0].Loss;
        double fresh = First(Options(dir, corpus, "fresh", 1));
        double continued = First(Options(dir, corpus, "continued", 1) with { InitFrom = dir["base"] });
        Assert.True(continued < fresh - 0.5, $"continued {continued} should start well below a fresh model's {fresh}");
        Assert.Equal(File.ReadAllText(Path.Combine(dir["base"], "vocab.json")),
            File.ReadAllText(Path.Combine(dir["continued"], "vocab.json")));   // the model's own tokenizer, not a new BPE
        Assert.Throws<OptionsException>(() =>
            Pretrainer.Run(Options(dir, corpus, "continued", 1) with { InitFrom = dir["base"], Resume = true }));
    }

    [Fact]
    public void Existing_checkpoint_is_never_overwritten_without_resume()
    {
        using var dir = new TempDir();
        var corpus = SmallCorpus(dir);
        Pretrainer.Run(Options(dir, corpus, "run", 2));
        var weights = Path.Combine(dir["run"], Pretrainer.CheckpointDir, GptCheckpoint.WeightsFile);
        var before = File.ReadAllBytes(weights);
        var e = Assert.Throws<OptionsException>(() => Pretrainer.Run(Options(dir, corpus, "run", 2)));
        Assert.Contains("--resume", e.Message);
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void Schedule_warms_up_linearly_then_follows_the_cosine()
    {
        var s = new LearningRateSchedule(1.0, 0.1, WarmupSteps: 10, TotalSteps: 110);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(1.0, s.At(9), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.55, s.At(60), 12);   // halfway through the decay: floor + (peak − floor)/2
        Assert.Equal(0.1, s.At(110), 12);
    }

    [Fact]
    public void Weight_decay_skips_biases_norms_and_embeddings()
    {
        torch.manual_seed(1);
        using var model = new Decoder(Presets.Tiny);
        var decayed = model.DistinctParameters().Where(p => ParameterSettings.Default(p.Name, p.Parameter).WeightDecay)
            .Select(p => p.Name).ToList();
        Assert.Equal(8, decayed.Count);   // the four projection matrices of each of 2 layers
        Assert.All(decayed, n => Assert.EndsWith(".weight", n));
        Assert.DoesNotContain("wte.weight", decayed);
    }
}
