using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using PluginGpt.Runs.Sweeps;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>The experiment and study files the README tells users to run stay runnable: each binds, its plugins exist, its
/// task reads its data with its options, its method attaches and its objective builds (the check every run makes first).</summary>
public class ShippedExperimentTests
{
    public static TheoryData<string> Files() =>
        [.. Directory.GetFiles(Path.Combine(CliRunner.RepoRoot, "experiments"), "*.json", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(CliRunner.RepoRoot, f)).Order()];

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_shipped_experiment_and_study_passes_the_checks_a_run_makes_first(string file)
    {
        var path = Path.Combine(CliRunner.RepoRoot, file);
        var runner = new ExperimentRunner(PluginCatalog.Load(PluginFolders.Resolve(null)),
            (_, _, work) => work(new Progress<TrainingProgress>()));
        if (CommentedJson.ReadObject(path, "file").ContainsKey("experiments"))
        {
            using var dir = new TempDir();
            var plan = StudyPlan.Load(path, [], dir.Path);
            foreach (var first in plan.Runs.GroupBy(r => (r.Group, r.Experiment)).Select(g => g.First()))
                runner.Check(ExperimentFile.LoadValid(first.File, first.Overrides));
        }
        else runner.Check(ExperimentFile.LoadValid(path, []));
    }
}
