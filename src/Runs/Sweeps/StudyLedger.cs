using System.Text.Json;
using PluginGpt.Core.Training;

namespace PluginGpt.Runs.Sweeps;

/// <summary><c>study-runs.json</c>: every run's resolved experiment, so a study that goes on in its folder never mixes runs
/// made with other settings (an edited experiment file, another <c>--set</c>) into one mean.</summary>
public static class StudyLedger
{
    const string File = "study-runs.json";

    public static void Write(string directory, IReadOnlyList<StudyRun> runs, IReadOnlyList<ExperimentSpec> specs) =>
        AtomicFile.WriteAllText(Path.Combine(directory, File), JsonSerializer.Serialize(
            runs.Select((r, i) => (Path.GetRelativePath(directory, r.Folder), Settings(specs[i])))
                .ToDictionary(p => p.Item1, p => p.Item2), new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>A run's settings without its folder, so a study folder that was moved still matches.</summary>
    static string Settings(ExperimentSpec spec) => ExperimentFile.Serialize(spec with { Output = null });

    /// <summary>Refuses when a finished run in <paramref name="directory"/> was made from a different experiment than it would
    /// be now.</summary>
    public static void CheckUnchanged(string directory, IReadOnlyList<StudyRun> runs, IReadOnlyList<ExperimentSpec> specs)
    {
        var path = Path.Combine(directory, File);
        if (!System.IO.File.Exists(path)) return;
        Dictionary<string, string> before;
        try { before = JsonSerializer.Deserialize<Dictionary<string, string>>(System.IO.File.ReadAllText(path)) ?? []; }
        catch (JsonException e) { throw new DataException($"{path}: not a study ledger ({e.Message.Split(" Path:")[0]})"); }
        for (int i = 0; i < runs.Count; i++)
        {
            var key = Path.GetRelativePath(directory, runs[i].Folder);
            bool finished = System.IO.File.Exists(Path.Combine(runs[i].Folder, RunFiles.Summary));
            if (finished && before.TryGetValue(key, out var old) && old != Settings(specs[i]))
                throw new OptionsException($"--out: {runs[i].Folder} was run with other settings than the study now gives it " +
                    "(an experiment file or --set changed); finish the study in a new --out");
        }
    }
}
