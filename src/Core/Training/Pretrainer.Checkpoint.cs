using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Corpora;
using PluginGpt.Core.Model;

namespace PluginGpt.Core.Training;

/// <summary>Pre-training's checkpoint: the resumable state (weights, optimizer, step, the options the run started with), written
/// atomically, read back by <c>--resume</c> — which refuses options that would make it another run.</summary>
public static partial class Pretrainer
{
    /// <summary><c>trainer_state.json</c>: the step reached and the options the run was started with (what --resume uses).</summary>
    sealed record TrainerState(int Step, PretrainOptions? Options = null);

    /// <summary>The step the checkpoint in <paramref name="directory"/> reached, or null without one (an unreadable one is refused
    /// in one line).</summary>
    public static int? CheckpointStep(string directory)
    {
        var checkpoint = Path.Combine(directory, CheckpointDir);
        return File.Exists(Path.Combine(checkpoint, StateFile)) ? ReadState(checkpoint).Step : null;
    }

    static TrainerState ReadState(string checkpoint)
    {
        var path = Path.Combine(checkpoint, StateFile);
        try { return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path)) ?? throw new JsonException("empty"); }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw new CheckpointException($"{path}: unreadable trainer state ({e.Message.Split(" Path:")[0]})");
        }
    }

    static void LoadOptimizer(OptimizerStep optimizer, string path)
    {
        try { optimizer.Rule.Load(path); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new CheckpointException($"{path}: unreadable optimizer state ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>The options a run was started with, for <c>--resume</c>; a different value for one that shapes the run is
    /// refused (a resumed run is the same run). Intervals, device and precision may change.</summary>
    static PretrainOptions ResumedOptions(string checkpoint, PretrainOptions given)
    {
        if (ReadState(checkpoint).Options is not { } stored) return given;   // a checkpoint from before options were stored
        foreach (var (flag, value) in Shaping)
        {
            string before = value(stored), now = value(given);
            if (before != now)
                throw new OptionsException($"{flag}: this run was started with {before}, not {now}; --resume continues it with its " +
                    "own options (leave it out; --eval-interval, --checkpoint-interval, --device and --precision may change)");
        }
        return given;
    }

    static readonly (string Flag, Func<PretrainOptions, string> Value)[] Shaping =
    [
        ("--preset", o => o.Preset), ("--tokenizer", o => o.Tokenizer),
        ("--corpus", o => string.Join(", ", o.Corpus.Select(c => CorpusSource.Parse(c).Spec))), ("--max-steps", o => Text(o.MaxSteps)),
        ("model shape", o => o.Shape.ToString()), ("--tokenizer-sample-mb", o => Text(o.TokenizerSampleMegabytes)),
        ("--batch-size", o => Text(o.BatchSize)), ("--block-size", o => Text(o.BlockSize)), ("--lr", o => Text(o.LearningRate)),
        ("--min-lr", o => Text(o.MinLearningRate)), ("--warmup-steps", o => Text(o.WarmupSteps)),
        ("--weight-decay", o => Text(o.WeightDecay)), ("--grad-clip", o => Text(o.GradClip)), ("--dropout", o => Text(o.Dropout)),
        ("--eval-batches", o => Text(o.EvalBatches)), ("--validation-fraction", o => Text(o.ValidationFraction)),
        ("--seed", o => Text(o.Seed)),
    ];

    static string Text(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The options as stored beside a checkpoint (the folder's own, intervals and device included), or null.</summary>
    public static PretrainOptions? StoredOptions(string directory)
    {
        // Read only (no recovery moves): another process may be writing this checkpoint right now.
        var checkpoint = Path.Combine(Path.GetFullPath(directory), CheckpointDir);
        var complete = AtomicDirectory.Complete(checkpoint);
        return complete is null ? null : ReadState(complete).Options;
    }

    /// <summary>Writes the resumable state into a fresh folder, then swaps it in: a crash leaves the previous checkpoint whole.</summary>
    static void SaveCheckpoint(Decoder model, OptimizerStep optimizer, string dir, int step, PretrainOptions options)
    {
        AtomicDirectory.Replace(Path.Combine(dir, CheckpointDir), fresh =>
        {
            GptCheckpoint.Save(model, fresh);
            optimizer.Rule.Save(Path.Combine(fresh, OptimizerFile));
            File.WriteAllText(Path.Combine(fresh, StateFile), JsonSerializer.Serialize(new TrainerState(step, options with
            {
                OutputDirectory = dir,
                Corpus = [.. options.Corpus.Select(c => CorpusSource.Parse(c).Spec)],
                Resume = false,
                Overwrite = false,
            })));
        });
        GptCheckpoint.Save(model, dir);   // the loadable model at the top of the folder follows the checkpoint
        File.Delete(Path.Combine(dir, UnfinishedMarker));
    }
}
