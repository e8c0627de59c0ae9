using System.Globalization;
using System.Text.Json;

namespace PluginGpt.Host.Experiments;

/// <summary>Reads an experiment JSON file, applies <c>--set key=value</c> overrides, and binds it strictly.</summary>
public static class ExperimentFile
{
    public static ExperimentSpec Load(string path, IEnumerable<string> overrides)
    {
        var obj = CommentedJson.ReadObject(path, "experiment file");
        foreach (var o in overrides) JsonOverrides.Apply(obj, o);
        return CommentedJson.Bind<ExperimentSpec>(obj, path);
    }

    /// <summary><see cref="Load"/> then <see cref="Validate"/>: a spec ready to run.</summary>
    public static ExperimentSpec LoadValid(string path, IEnumerable<string> overrides)
    {
        var spec = Load(path, overrides);
        Validate(spec, path);
        return spec;
    }

    public static string Serialize(ExperimentSpec spec) => JsonSerializer.Serialize(spec, CommentedJson.Strict);

    /// <summary>Range checks of the host's own fields; plugins check their own options.</summary>
    public static void Validate(ExperimentSpec s, string path)
    {
        void Check(bool ok, string field, string expectation) { if (!ok) throw new OptionsException($"{path}: {field}: {expectation}"); }
        Check((s.Model.Preset is null) != (s.Model.Path is null), "model", "give exactly one of \"preset\" or \"path\"");
        Check(s.Task.Name.Length > 0, "task.name", "required (classification, nli, similarity, multiple-choice)");
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
    }
}
