using System.CommandLine;
using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Reports;
using PluginGpt.Runs.Sweeps;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt study STUDY.json [--out DIR]</c>: every experiment × group × x × seed of a study file, then mean ± std over
/// seeds per series in <c>study.md</c>, <c>study.json</c> and a chart per group. Run it again on the same folder to finish an
/// interrupted study: finished runs are kept, an unfinished one is run again.
/// </summary>
public sealed class StudyCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    const string Marker = "study-file.json";

    public Command Build()
    {
        var file = new Argument<string>("study") { Description = "the study file (experiments, groups, x values, seeds, series)" };
        var set = new Option<string[]>("--set") { Description = "override applied to every run (key=value, repeatable)" };
        var output = new Option<string?>("--out") { Description = "study folder (default runs/<name>); an unfinished study there goes on" };
        var reportOnly = new Option<bool>("--report-only")
        {
            Description = "run nothing: compare the runs that finished (unfinished cells say how many seeds they have)",
        };
        var command = new Command("study", "Run experiments over data sets, sizes and seeds; compare them as mean ± std.")
        { file, set, output, reportOnly };
        command.SetAction(async (parse, cancel) =>
        {
            var path = parse.GetValue(file)!;
            var name = CommentedJson.ReadObject(path, "study file")["name"]?.ToString() ?? "study";
            bool onlyReport = parse.GetValue(reportOnly);
            var dir = StudyFolder(parse.GetValue(output) ?? Path.Combine("runs", OutputFolder.SafeName(name)), path, onlyReport);
            var plan = StudyPlan.Load(path, parse.GetValue(set) ?? [], dir);
            // Every run is bound once; every experiment of every group is checked (options, data) before the first run.
            var specs = plan.Runs.Select(r => ExperimentFile.LoadValid(r.File, r.Overrides) with { Output = r.Folder }).ToList();
            var checker = runners.Quiet();
            foreach (var first in Enumerable.Range(0, specs.Count).GroupBy(i => (plan.Runs[i].Group, plan.Runs[i].Experiment)))
                checker.Check(specs[first.First()]);
            CheckTrainingSizes(plan, specs, checker);
            StudyLedger.CheckUnchanged(dir, plan.Runs, specs);
            // --report-only reads the folder and writes only the report; a run writes its marker and ledger under the lock.
            using var held = onlyReport ? null : OutputLock.Acquire(dir, "--out");   // one process per study folder
            if (!onlyReport)
            {
                File.Copy(path, Path.Combine(dir, Marker), overwrite: true);
                StudyLedger.Write(dir, plan.Runs, specs);
            }

            var xLabel = plan.Spec.X.Label ?? plan.Spec.X.Key;
            for (int i = 0; i < plan.Runs.Count && !cancel.IsCancellationRequested && !onlyReport; i++)
            {
                var run = plan.Runs[i];
                if (File.Exists(Path.Combine(run.Folder, RunFiles.Summary))) continue;
                // An unfinished run of this study (interrupted) is the study's own scratch: it starts again.
                if (Directory.Exists(run.Folder)) Directory.Delete(run.Folder, recursive: true);
                var title = $"[{i + 1}/{plan.Runs.Count}] {run.Group} {xLabel}={run.X} seed={run.Seed} {run.Experiment}";
                await runners.Create(title).RunAsync(specs[i], cancel);
            }

            var scores = Scores(plan);
            if (scores.Count > 0)
                StudyReport.Write(console, dir, plan.Spec.Name, xLabel, [.. plan.Series.Select(s => s.Name)], plan.Spec.Seeds.Count,
                    scores, $"{scores.Select(s => s.Run).Distinct().Count()} of {plan.Runs.Count} runs finished; {Note(plan, specs)}");
            console.MarkupLineInterpolated($"study folder: {dir}");
            return cancel.IsCancellationRequested ? Cli.Cancelled : 0;
        });
        return command;
    }

    /// <summary>An x axis of training-set sizes must get what it names: a size beyond the data set would run on all of it, and
    /// two such sizes would be reported as two points made from the same rows.</summary>
    static void CheckTrainingSizes(StudyPlan plan, IReadOnlyList<ExperimentSpec> specs, ExperimentRunner checker)
    {
        if (!plan.Spec.X.Key.EndsWith("max_train", StringComparison.Ordinal)) return;
        foreach (var first in Enumerable.Range(0, specs.Count).GroupBy(i => (plan.Runs[i].Group, plan.Runs[i].X)).Select(g => g.First()))
        {
            var run = plan.Runs[first];
            int rows = checker.LoadTask(specs[first]).Train.Count;
            if (rows < run.X)
                throw new OptionsException($"x.values: {plan.Spec.X.Key} = {run.X} in group '{run.Group}', but its training set " +
                    $"has {rows} rows: that point would repeat a smaller one; drop the values above {rows}");
        }
    }

    /// <summary>A new or empty folder, or one this study started (an unfinished study goes on); never someone else's.</summary>
    static string StudyFolder(string path, string studyFile, bool reportOnly)
    {
        var dir = Path.GetFullPath(path);
        var marker = Path.Combine(dir, Marker);
        if (reportOnly && !File.Exists(marker))
            throw new OptionsException($"--out: {dir} holds no study to report on (run the study there first)");
        if (File.Exists(marker))
        {
            var before = CommentedJson.ReadObject(marker, "study file")["name"]?.ToString();
            var now = CommentedJson.ReadObject(studyFile, "study file")["name"]?.ToString();
            if (before != now)
                throw new OptionsException($"--out: {dir} holds the study '{before}', not '{now}'; choose another --out");
            return dir;
        }
        return OutputFolder.EnsureFree(dir, "--out");
    }

    /// <summary>Every series' score in every finished run; a series with no matching stage in a run is said once.</summary>
    List<StudyScore> Scores(StudyPlan plan)
    {
        var scores = new List<StudyScore>();
        var missing = new HashSet<string>();
        foreach (var run in plan.Runs.Where(r => File.Exists(Path.Combine(r.Folder, RunFiles.Summary))))
        {
            var summary = RunFiles.ReadSummary(run.Folder);
            foreach (var series in plan.Series.Where(s => s.Experiment == run.Experiment))
            {
                if (StudyPlan.Score(series, summary) is { } value)
                    scores.Add(new StudyScore(run.Group, series.Name, run.X, run.Seed, summary.PrimaryMetric, value, run.Folder));
                else if (missing.Add(series.Name))
                    console.MarkupLineInterpolated(
                        $"[yellow]series '{series.Name}': no stage of {run.Folder} matches '{series.Stages}'; left out[/]");
            }
        }
        return scores;
    }

    static string Note(StudyPlan plan, IReadOnlyList<ExperimentSpec> specs)
    {
        var models = specs.Select(s => s.Model.Path ?? s.Model.Preset).Distinct();
        return $"base model: {string.Join(", ", models)}; seeds {string.Join(", ", plan.Spec.Seeds)}.";
    }
}
