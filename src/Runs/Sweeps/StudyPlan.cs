using System.Globalization;
using System.Text.RegularExpressions;

namespace PluginGpt.Runs.Sweeps;

/// <summary>One run of a study: an experiment in a group at an x value and a seed, with its overrides and folder.</summary>
public sealed record StudyRun(string Group, double X, int Seed, string Experiment, string File, IReadOnlyList<string> Overrides,
    string Folder);

/// <summary>A study file read, checked and expanded into its runs (every error one line naming the file and field).</summary>
public sealed class StudyPlan
{
    public StudySpec Spec { get; }
    /// <summary>Experiment name → its file, in the study's order.</summary>
    public IReadOnlyDictionary<string, string> Experiments { get; }
    public IReadOnlyList<StudySeries> Series { get; }
    public IReadOnlyList<StudyRun> Runs { get; }

    StudyPlan(StudySpec spec, IReadOnlyDictionary<string, string> experiments, IReadOnlyList<StudySeries> series,
        IReadOnlyList<StudyRun> runs) => (Spec, Experiments, Series, Runs) = (spec, experiments, series, runs);

    /// <summary>Reads <paramref name="path"/>; <paramref name="overrides"/> (<c>--set</c>) apply to every run after the
    /// study's own; runs go in <paramref name="directory"/>/group/x/seed/experiment.</summary>
    public static StudyPlan Load(string path, IReadOnlyList<string> overrides, string directory)
    {
        var spec = CommentedJson.Bind<StudySpec>(CommentedJson.ReadObject(path, "study file"), path);
        void Check(bool ok, string field, string expectation) { if (!ok) throw new OptionsException($"{path}: {field}: {expectation}"); }
        Check(spec.Experiments.Count > 0, "experiments", "list at least one experiment file");
        Check(spec.Groups.Count > 0, "groups", "name at least one group (e.g. a data set and its overrides)");
        Check(spec.Seeds.Count > 0 && spec.Seeds.Distinct().Count() == spec.Seeds.Count, "seeds", "list distinct seeds");
        Check(spec.X.Key.Length > 0, "x.key", "the setting the x axis sweeps, e.g. task.max_train");
        Check(spec.X.Key is not ("seed" or "output" or "name"), "x.key",
            $"'{spec.X.Key}' is not a setting to compare (seeds are the study's own \"seeds\"); sweep e.g. task.max_train");
        Check(spec.X.Values.Count > 0 && spec.X.Values.Distinct().Count() == spec.X.Values.Count, "x.values",
            "list distinct values");
        foreach (var (name, group) in spec.Groups)
        {
            Check(SafeName(name), $"groups.{name}", "use letters, digits, '-', '_' or '.' (it names a folder)");
            Check(group.X is null || group.X.Count > 0 && group.X.Distinct().Count() == group.X.Count, $"groups.{name}.x",
                "list distinct values, or leave it out");
        }

        var experiments = new Dictionary<string, string>();
        for (int i = 0; i < spec.Experiments.Count; i++)
        {
            var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, spec.Experiments[i]);
            var name = ExperimentFile.Load(file, []).Name;
            Check(SafeName(name), $"experiments[{i}]", $"the experiment's name '{name}' must be a folder-safe name");
            Check(experiments.TryAdd(name, file), $"experiments[{i}]", $"two experiments are named '{name}'");
        }
        foreach (var (name, group) in spec.Groups)
            foreach (var experiment in group.Experiments.Keys)
                Check(experiments.ContainsKey(experiment), $"groups.{name}.experiments.{experiment}",
                    $"none of the experiments ({string.Join(", ", experiments.Keys)})");
        var series = spec.Series ?? experiments.Keys.Select(e => new StudySeries { Name = e, Experiment = e }).ToList();
        for (int i = 0; i < series.Count; i++)
        {
            Check(experiments.ContainsKey(series[i].Experiment), $"series[{i}].experiment",
                $"'{series[i].Experiment}' is none of the experiments ({string.Join(", ", experiments.Keys)})");
            Check(series[i].Take is "mean" or "max" or "min", $"series[{i}].take", $"mean, max or min, got '{series[i].Take}'");
        }
        Check(series.Select(s => s.Name).Distinct().Count() == series.Count, "series", "two series have the same name");

        var runs = new List<StudyRun>();
        string axis = spec.X.Key.Split('.')[^1];
        foreach (var (group, settings) in spec.Groups)
            foreach (var x in settings.X ?? spec.X.Values)
                foreach (var seed in spec.Seeds)
                    foreach (var (name, file) in experiments)
                    {
                        var value = x.ToString(CultureInfo.InvariantCulture);
                        runs.Add(new StudyRun(group, x, seed, name, file,
                            [.. spec.Set, .. settings.Set, .. settings.Experiments.GetValueOrDefault(name) ?? [], $"{spec.X.Key}={value}",
                                $"seed={seed}", .. overrides],
                            Path.Combine(directory, group, $"{axis}={value}", $"seed={seed}", name)));
                    }
        return new StudyPlan(spec, experiments, series, runs);
    }

    static bool SafeName(string name) => Regex.IsMatch(name, "^[A-Za-z0-9._-]+$") && name is not "." and not "..";

    /// <summary>The score a series reads from a finished run: its primary metric, or that metric over its matching stages;
    /// null when no stage matches (e.g. a recipe run without distillation).</summary>
    public static double? Score(StudySeries series, Core.Training.RunSummary run)
    {
        if (series.Stages is null) return run.PrimaryScore;
        var pattern = new Regex("^" + Regex.Escape(series.Stages).Replace("\\*", ".*") + "$");
        var values = (run.Stages ?? []).Where(s => pattern.IsMatch(s.Name) && s.Metrics.ContainsKey(run.PrimaryMetric))
            .Select(s => s.Metrics[run.PrimaryMetric]).ToList();
        if (values.Count == 0) return null;
        return series.Take switch { "max" => values.Max(), "min" => values.Min(), _ => values.Average() };
    }
}
