using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

public class SweepTests
{
    [Fact]
    public void Sweep_runs_every_combination_and_compares_them()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "training.lr=1e-3,3e-3", "--grid", "method.name=full,probe",
            "--set", "training.epochs=1", "--out", dir["sweep"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["sweep"], "sweep.json"))).RootElement.EnumerateArray().ToList();
        Assert.Equal(["lr=1e-3_name=full", "lr=1e-3_name=probe", "lr=3e-3_name=full", "lr=3e-3_name=probe"],
            rows.Select(x => x.GetProperty("method").GetString()));
        Assert.Equal(66, rows[1].GetProperty("trainableParameters").GetInt64());   // probe: the 2-class head on d=32 only
        Assert.All(rows, x => Assert.True(File.Exists(Path.Combine(x.GetProperty("folder").GetString()!, "metrics.json"))));
        Assert.True(File.Exists(Path.Combine(dir["sweep"], "sweep.md"))
            && new FileInfo(Path.Combine(dir["sweep"], "sweep.png")).Length > 1000);
    }

    [Fact]
    public void A_bad_combination_fails_before_any_run()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "training.lr=1e-3,7", "--out", dir["sweep"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("training.lr", r.Stderr);
        Assert.False(Directory.Exists(dir["sweep"]));
    }

    [Fact]
    public void Slurm_sweep_writes_a_job_array_whose_tasks_run_their_combinations_and_collect_tells_finished_failed_and_missing()
    {
        using var dir = new TempDir();
        var sweep = dir["sweep"];
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "training.lr=1e-3,3e-3,0.01", "--set", "training.epochs=1",
            "--slurm", "--time", "5", "--cpus", "1", "--partition", "cpu", "--out", sweep);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var script = File.ReadAllText(Path.Combine(sweep, "sweep.sbatch"));
        foreach (var directive in new[] { "--array=0-2", "--time=5", "--cpus-per-task=1", "--partition=cpu",
            $"--output={Path.Combine(sweep, "slurm", "%a.out")}", $"--chdir={CliRunner.RepoRoot}" })
            Assert.Contains($"#SBATCH {directive}\n", script);
        Assert.False(Directory.EnumerateDirectories(sweep).Any(d => Path.GetFileName(d).StartsWith("01")), "nothing runs before sbatch");

        // Array tasks as Slurm starts them (SLURM_ARRAY_TASK_ID set, output into slurm/%a.out), here without a scheduler.
        Assert.Equal(0, ArrayTask(sweep, 0));
        File.Move(Path.Combine(sweep, "experiment.json"), dir["moved.json"]);   // task 1 now fails as a run fails: exit 2, one line
        Assert.Equal(2, ArrayTask(sweep, 1));
        Assert.Contains("experiment file not found", File.ReadAllText(Path.Combine(sweep, "slurm", "1.out")));

        var collected = CliRunner.Run("sweep", "--collect", sweep);
        Assert.Equal(3, collected.ExitCode);   // not every run finished
        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "sweep.json"))).RootElement.EnumerateArray().ToList();
        Assert.Equal(["lr=1e-3"], rows.Select(x => x.GetProperty("method").GetString()));
        var said = string.Join(' ', collected.Stdout.Split('\n').Select(l => l.Trim()));
        Assert.Matches(@"failed: 02-lr=3e-3: exit 2; last output: .*experiment file not found", said);
        Assert.Contains("missing: 03-lr=0.01: not run yet", said);
        Assert.Contains("1 of 3 runs finished", said);

        // The task that finished was recorded in the results store the sweep named in the script (this test's database).
        var results = CliRunner.Run("results", "--json");
        Assert.Contains(Path.Combine(sweep, "01-lr=1e-3"), results.Stdout);
    }

    [Fact]
    public void Slurm_options_are_checked_before_anything_is_written()
    {
        using var dir = new TempDir();
        string[] sweep = ["sweep", Experiments.Tiny, "--grid", "training.lr=1e-3,3e-3", "--out", dir["sweep"]];
        foreach (var (extra, says) in new[]
        {
            (new[] { "--submit" }, "go with --slurm"),
            (new[] { "--slurm", "--time", "soon" }, "--time: 'soon'"),
            (new[] { "--slurm", "--cpus", "0" }, "--cpus"),
            (new[] { "--slurm", "--partition", "a b" }, "--partition"),
        })
        {
            var r = CliRunner.Run([.. sweep, .. extra]);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(says, r.Stderr);
            Assert.False(Directory.Exists(dir["sweep"]));
        }
        var noPlan = CliRunner.Run("sweep", "--collect", dir.Path);
        Assert.Equal(2, noPlan.ExitCode);
        Assert.Contains("not a sweep folder", noPlan.Stderr);

        // No scheduler on PATH: --submit says so in one line and leaves the script to submit by hand.
        var noSbatch = CliRunner.RunWith(new() { ["PATH"] = dir["empty"] }, [.. sweep, "--slurm", "--submit"]);
        Assert.Equal(2, noSbatch.ExitCode);
        Assert.Contains("sbatch not found on PATH", noSbatch.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["sweep"], "sweep.sbatch")));
    }

    static int ArrayTask(string sweep, int index)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = CliRunner.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(sweep, "sweep.sbatch"));
        start.Environment["SLURM_ARRAY_TASK_ID"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["SLURM_CPUS_PER_TASK"] = "1";
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEnd();
        p.WaitForExit();
        File.WriteAllText(Path.Combine(sweep, "slurm", $"{index}.out"), output.Result + errors);
        return p.ExitCode;
    }
}
