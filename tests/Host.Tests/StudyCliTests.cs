using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>study</c>: a classifier-head experiment and a PET recipe over two |T| and two seeds on real SST-2 rows with the
/// tiny model; the table's means and standard deviations are recomputed from the runs' own metrics.json.</summary>
public class StudyCliTests
{
    static string Experiment(TempDir dir, string name, string objective, string? recipe) =>
        Write(dir[$"{name}.json"], $$"""
        {
          "name": "{{name}}",
          "model": { "preset": "tiny", "tokenizer": "{{Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k")}}" },
          "method": { "name": "full" },
          "objective": {{objective}},
          {{(recipe is null ? "" : $"\"recipe\": {recipe},")}}
          "task": { "name": "classification", "dataset": "sst2", "max_train": 8, "balance_train": true, "max_unlabelled": 16,
                    "max_dev": 16 },
          "training": { "epochs": 1, "batch_size": 4, "lr": 1e-3, "keep": "last" },
          "seed": 3
        }
        """);

    static string Write(string path, string text)
    {
        File.WriteAllText(path, text);
        return path;
    }

    static string Study(TempDir dir, string series) => Write(dir["study.json"], $$"""
        {
          // a comment, as in every project JSON file
          "name": "tiny-study",
          "experiments": ["head.json", "pet.json"],
          "groups": { "sst2": { "set": ["task.dataset=sst2"], "experiments": { "head": ["training.lr=0.002"] } } },
          "x": { "key": "task.max_train", "label": "|T|", "values": [4, 8] },
          "seeds": [1, 2],
          "series": {{series}}
        }
        """);

    const string Series = """
        [ { "name": "head", "experiment": "head" },
          { "name": "zero-shot mean", "experiment": "pet", "stages": "* zero-shot" },
          { "name": "ensemble", "experiment": "pet", "stages": "ensemble" },
          { "name": "distilled (|T| = 0)", "experiment": "pet", "stages": "distilled" } ]
        """;

    static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    static double Stage(string run, string stage, string metric) => Json(Path.Combine(run, "metrics.json")).GetProperty("stages")
        .EnumerateArray().Where(s => s.GetProperty("name").GetString()!.EndsWith(stage))
        .Average(s => s.GetProperty("metrics").GetProperty(metric).GetDouble());

    [Fact]
    public void Study_runs_every_cell_and_reports_mean_and_std_over_seeds_then_resumes_without_rerunning()
    {
        using var dir = new TempDir();
        Experiment(dir, "head", """{ "name": "classifier-head" }""", null);
        Experiment(dir, "pet", """{ "name": "pet", "options": { "lm_alpha": 0.1, "max_length": 48 } }""",
            """{ "name": "pet", "options": { "patterns": [0, 1], "models_per_pattern": 1 } }""");
        var study = Study(dir, Series);
        var output = dir["out"];
        var r = CliRunner.Run("study", study, "--out", output);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        foreach (var file in new[] { "study.md", "study.json", "study-sst2.png", "study-file.json" })
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        // Every table row has the header's columns: a "|" in a series name is escaped.
        var rows = File.ReadAllLines(Path.Combine(output, "study.md")).Where(l => l.StartsWith('|')).ToList();
        Assert.All(rows, row => Assert.Equal(rows[0].Replace("\\|", "").Count(c => c == '|'), row.Replace("\\|", "").Count(c => c == '|')));

        string Run(int size, int seed, string experiment) => Path.Combine(output, "sst2", $"max_train={size}", $"seed={seed}", experiment);
        var cells = Json(Path.Combine(output, "study.json")).GetProperty("cells").EnumerateArray().ToList();
        Assert.Equal(4 * 2, cells.Count);   // 4 series × 2 sizes
        foreach (var size in new[] { 4, 8 })
        {
            // Each run got the cell's |T| and seed; the group's override for one experiment reached that experiment only.
            var config = Json(Path.Combine(Run(size, 2, "head"), "config.json"));
            Assert.Equal(size, config.GetProperty("task").GetProperty("max_train").GetInt32());
            Assert.Equal(2, config.GetProperty("seed").GetInt32());
            Assert.Equal(0.002, config.GetProperty("training").GetProperty("lr").GetDouble());
            var pet = Json(Path.Combine(Run(size, 2, "pet"), "config.json"));
            Assert.Equal(1e-3, pet.GetProperty("training").GetProperty("lr").GetDouble());
            var expected = new Dictionary<string, double[]>
            {
                ["head"] = [.. new[] { 1, 2 }.Select(s => Json(Path.Combine(Run(size, s, "head"), "metrics.json"))
                    .GetProperty("metrics").GetProperty("accuracy").GetDouble())],
                ["zero-shot mean"] = [.. new[] { 1, 2 }.Select(s => Stage(Run(size, s, "pet"), "zero-shot", "accuracy"))],
                ["ensemble"] = [.. new[] { 1, 2 }.Select(s => Stage(Run(size, s, "pet"), "ensemble", "accuracy"))],
                ["distilled (|T| = 0)"] = [.. new[] { 1, 2 }.Select(s => Stage(Run(size, s, "pet"), "distilled", "accuracy"))],
            };
            foreach (var (series, values) in expected)
            {
                var cell = cells.Single(c => c.GetProperty("series").GetString() == series && c.GetProperty("x").GetDouble() == size);
                double mean = values.Average(), std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
                Assert.Equal(mean, cell.GetProperty("mean").GetDouble(), 12);
                Assert.Equal(std, cell.GetProperty("std").GetDouble(), 12);
                Assert.Equal(2, cell.GetProperty("n").GetInt32());
                Assert.Contains($"| {series.Replace("|", "\\|")} |", File.ReadAllText(Path.Combine(output, "study.md")));
            }
        }

        // Again on the same folder: finished runs are kept; an unfinished one (no metrics.json) runs again.
        var kept = File.GetLastWriteTimeUtc(Path.Combine(Run(4, 1, "pet"), "metrics.json"));
        File.Delete(Path.Combine(Run(8, 2, "head"), "metrics.json"));
        var again = CliRunner.Run("study", study, "--out", output);
        Assert.True(again.ExitCode == 0, again.Stderr + again.Stdout);
        Assert.Equal(kept, File.GetLastWriteTimeUtc(Path.Combine(Run(4, 1, "pet"), "metrics.json")));
        Assert.True(File.Exists(Path.Combine(Run(8, 2, "head"), "metrics.json")));
        Assert.Contains("[7/8]", again.Stdout);   // x, then seed, then experiment: head at |T| = 8, seed 2
        Assert.DoesNotContain("[8/8]", again.Stdout);
        Assert.DoesNotContain("[1/8]", again.Stdout);

        // --report-only runs nothing and marks the cells with fewer seeds than planned.
        File.Delete(Path.Combine(Run(8, 2, "head"), "metrics.json"));
        var report = CliRunner.Run("study", study, "--out", output, "--report-only");
        Assert.True(report.ExitCode == 0, report.Stderr + report.Stdout);
        Assert.False(File.Exists(Path.Combine(Run(8, 2, "head"), "metrics.json")));
        Assert.Contains("(n=1)", File.ReadAllText(Path.Combine(output, "study.md")));
        Assert.Contains("7 of 8 runs finished", File.ReadAllText(Path.Combine(output, "study.md")));

        // Settings that changed since the finished runs are refused: one mean never mixes two configurations.
        var changed = CliRunner.Run("study", study, "--out", output, "--set", "training.lr=0.01");
        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("other settings", changed.Stderr);
    }

    [Theory]
    [InlineData("""[ { "name": "x", "experiment": "nope" } ]""", "series[0].experiment")]
    [InlineData("""[ { "name": "x", "experiment": "head", "take": "median" } ]""", "series[0].take")]
    [InlineData("""[ { "name": "x", "experiment": "head", "colour": "red" } ]""", "colour")]
    public void A_bad_study_file_is_one_line_naming_the_field(string series, string field)
    {
        using var dir = new TempDir();
        Experiment(dir, "head", """{ "name": "classifier-head" }""", null);
        Experiment(dir, "pet", """{ "name": "pet" }""", """{ "name": "pet" }""");
        var r = CliRunner.Run("study", Study(dir, series), "--out", dir["out"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(field, r.Stderr);
        Assert.Contains("study.json", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.False(Directory.Exists(dir["out"]));
    }

    [Fact]
    public void A_study_never_writes_into_a_folder_that_is_not_its_own()
    {
        using var dir = new TempDir();
        Experiment(dir, "head", """{ "name": "classifier-head" }""", null);
        Experiment(dir, "pet", """{ "name": "pet" }""", """{ "name": "pet" }""");
        var occupied = dir["occupied"];
        Directory.CreateDirectory(occupied);
        File.WriteAllText(Path.Combine(occupied, "keep.txt"), "mine");
        var r = CliRunner.Run("study", Study(dir, Series), "--out", occupied);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--out", r.Stderr);
        Assert.Equal(["keep.txt"], Directory.GetFiles(occupied).Select(Path.GetFileName));
    }

    [Fact]
    public void A_study_never_reports_points_that_did_not_happen_nor_makes_the_folder_it_reports_on()
    {
        using var dir = new TempDir();
        Experiment(dir, "head", """{ "name": "classifier-head" }""", null);
        Experiment(dir, "pet", """{ "name": "pet" }""", """{ "name": "pet" }""");
        // Six training rows: |T| = 4 is real, |T| = 8 would run on the same six rows as a point of its own.
        File.WriteAllText(dir["train.tsv"],
            "text\tlabel\n" + string.Concat(Enumerable.Range(0, 6).Select(i => $"row {i} text\t{i % 2}\n")));
        var study = Write(dir["small.json"], $$"""
            {
              "name": "small-study",
              "experiments": ["head.json"],
              "groups": { "mine": { "set": ["task.dataset=null", "task.train={{dir["train.tsv"]}}",
                "task.dev={{dir["train.tsv"]}}", "task.balance_train=false"] } },
              "x": { "key": "task.max_train", "values": [4, 8] },
              "seeds": [1]
            }
            """);
        var r = CliRunner.Run("study", study, "--out", dir["out"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("x.values", r.Stderr);
        Assert.Contains("has 6 rows", r.Stderr);
        Assert.False(Directory.Exists(dir["out"]));

        var bySeed = Write(dir["seed.json"], """
            { "name": "seed-axis", "experiments": ["head.json"], "groups": { "sst2": { "set": [] } },
              "x": { "key": "seed", "values": [1, 2] }, "seeds": [1] }
            """);
        r = CliRunner.Run("study", bySeed, "--out", dir["out"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("x.key", r.Stderr);

        r = CliRunner.Run("study", Study(dir, Series), "--out", dir["never-ran"], "--report-only");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("holds no study", r.Stderr);
        Assert.False(Directory.Exists(dir["never-ran"]));
    }
}
