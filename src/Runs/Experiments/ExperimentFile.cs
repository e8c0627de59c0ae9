using System.Globalization;
using System.Text.Json;

namespace PluginGpt.Runs;

/// <summary>Reads an experiment JSON file, applies <c>--set key=value</c> overrides, and binds it strictly.</summary>
public static class ExperimentFile
{
    /// <summary>The experiment in <paramref name="path"/> with <paramref name="overrides"/> applied; <paramref name="text"/> is the
    /// file's text when the caller read it already (a sweep checks and copies exactly one reading of the file).</summary>
    public static ExperimentSpec Load(string path, IEnumerable<string> overrides, string? text = null)
    {
        var obj = CommentedJson.ReadObject(ShippedData.ExperimentFile(path), "experiment file", text);
        foreach (var o in overrides) JsonOverrides.Apply(obj, o);
        return CommentedJson.Bind<ExperimentSpec>(obj, path);
    }

    /// <summary><see cref="Load"/> then <see cref="Validate"/>: a spec ready to run.</summary>
    public static ExperimentSpec LoadValid(string path, IEnumerable<string> overrides, string? text = null)
    {
        var spec = Load(path, overrides, text);
        Validate(spec, path);
        return spec;
    }

    public static string Serialize(ExperimentSpec spec) => JsonSerializer.Serialize(spec, CommentedJson.Strict);

    /// <summary>Range checks of the host's own fields; plugins check their own options.</summary>
    public static void Validate(ExperimentSpec s, string path)
    {
        void Check(bool ok, string field, string expectation) { if (!ok) throw new OptionsException($"{path}: {field}: {expectation}"); }
        Check((s.Model.Preset is null) != (s.Model.Path is null), "model", "give exactly one of \"preset\" or \"path\"");
        if (s.Output is { } output) OutputFolder.CheckName(output, $"{path}: output");
        if (s.Tasks is { } tasks)
        {
            Check(s.Task.Name.Length == 0 && s.Task.Options.Count == 0, "tasks", "give \"task\" or \"tasks\", not both");
            Check(tasks.Count >= 1, "tasks", "name at least one task");
            for (int i = 0; i < tasks.Count; i++)
                Check(tasks[i].Name.Length > 0, $"tasks[{i}].name", "required (classification, nli, similarity, multiple-choice)");
            var m = s.Mixing ?? new MixingSpec();
            Check(m.Strategy is "proportional" or "temperature" or "equal", "mixing.strategy",
                $"must be \"proportional\", \"temperature\" or \"equal\", got \"{m.Strategy}\"");
            Check(m.Limit >= 0, "mixing.limit", $"must be ≥ 0 (0 = no limit), got {m.Limit}");
            Check(m.Temperature > 0, "mixing.temperature", $"must be > 0, got {m.Temperature}");
        }
        else
        {
            Check(s.Task.Name.Length > 0, "task.name", "required (classification, nli, similarity, multiple-choice)");
            Check(s.Mixing is null, "mixing", "mixes several tasks; give \"tasks\" or remove it");
        }
        for (int i = 0; i < (s.Callbacks?.Count ?? 0); i++)
            Check(s.Callbacks![i].Name.Length > 0, $"callbacks[{i}].name", "required (a callback plugin's name; see plugingpt plugins)");
        var t = s.Training;
        Check(t.Epochs >= 1, "training.epochs", $"must be ≥ 1, got {t.Epochs}");
        Check(t.BatchSize >= 1, "training.batch_size", $"must be ≥ 1, got {t.BatchSize}");
        Check(t.GradientAccumulation >= 1, "training.gradient_accumulation", $"must be ≥ 1, got {t.GradientAccumulation}");
        Check(t.LearningRate > 0 && t.LearningRate < 1, "training.lr",
            $"must be in (0, 1), got {t.LearningRate.ToString(CultureInfo.InvariantCulture)}");
        Check(t.WarmupFraction is >= 0 and <= 1, "training.warmup", $"is a fraction of the steps in [0, 1], got {t.WarmupFraction}");
        Check(t.WeightDecay >= 0, "training.weight_decay", $"must be ≥ 0, got {t.WeightDecay}");
        Check(t.GradClip >= 0, "training.grad_clip", $"must be ≥ 0, got {t.GradClip}");
        Check(t.MaxSteps >= 0, "training.max_steps", $"must be ≥ 0, got {t.MaxSteps}");
        Check(t.Keep is "best" or "last", "training.keep", $"must be \"best\" (best dev epoch) or \"last\", got \"{t.Keep}\"");
        Check(Core.Training.Optimizers.OptimizerChoice.Names.Contains(t.Optimizer), "training.optimizer",
            $"must be one of {string.Join(", ", Core.Training.Optimizers.OptimizerChoice.Names)}, got \"{t.Optimizer}\"");
        Check(t.Momentum is >= 0 and < 1, "training.momentum", $"must be in [0, 1), got {t.Momentum}");
        Check(Core.Training.LearningRateSchedule.Shapes.Contains(t.Schedule), "training.schedule",
            $"must be one of {string.Join(", ", Core.Training.LearningRateSchedule.Shapes)}, got \"{t.Schedule}\"");
        Check(t.CheckpointEvery >= 0, "training.checkpoint_every",
            $"is a number of optimizer steps (0 = after evaluations only), got {t.CheckpointEvery}");
        Check(t.EvalEvery >= 0, "training.eval_every", $"is a number of optimizer steps ≥ 1 (0 = after every epoch), got {t.EvalEvery}");
        Check(t.BestMetric is null || t.BestMetric.Length > 0, "training.best_metric", "names a dev metric, e.g. \"accuracy\"");
        if (t.EarlyStopping is { } stop)
        {
            Check(stop.Patience >= 1, "training.early_stopping.patience", $"must be ≥ 1 evaluation, got {stop.Patience}");
            Check(stop.MinDelta >= 0, "training.early_stopping.min_delta", $"must be ≥ 0, got {stop.MinDelta}");
        }
        // keep = last looks at the dev set once, after training: nothing may choose a step by it.
        Check(!t.KeepsLast || (t.EvalEvery == 0 && t.EarlyStopping is null && t.BestMetric is null), "training.keep",
            "\"last\" scores the dev set once, after training; remove eval_every, best_metric and early_stopping or keep \"best\"");
    }
}
