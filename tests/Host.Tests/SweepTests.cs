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
        // The objective is built for every combination too, before the first run (here: its second one's option).
        var objective = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "objective.options.pooling=last,middle", "--out", dir["sweep"]);
        Assert.Equal(2, objective.ExitCode);
        Assert.Contains("objective.options.pooling", objective.Stderr);
        Assert.False(Directory.Exists(dir["sweep"]));
    }

    [Fact]
    public void Slurm_sweep_writes_a_job_array_whose_tasks_run_their_combinations_and_collect_tells_finished_failed_and_missing()
    {
        using var dir = new TempDir();
        var sweep = dir["sweep"];
        const string name = "it's $HOME \"quoted\" `date` & more";   // reaches the run exactly through the script's quoting
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "training.lr=1e-3,3e-3,0.01", "--set", "training.epochs=1",
            "--set", $"name={name}", "--slurm", "--time", "5", "--cpus", "1", "--partition", "cpu", "--out", sweep);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var script = File.ReadAllText(Path.Combine(sweep, "sweep.sbatch"));
        foreach (var directive in new[] { "--array=0-2", "--time=5", "--cpus-per-task=1", "--partition=cpu",
            $"--output={Path.Combine(sweep, "slurm", "%a.out")}", $"--chdir={CliRunner.RepoRoot}" })
            Assert.Contains($"#SBATCH {directive}\n", script);
        Assert.False(Directory.EnumerateDirectories(sweep).Any(d => Path.GetFileName(d).StartsWith("01")), "nothing runs before sbatch");

        // Array tasks as Slurm starts them (SLURM_ARRAY_TASK_ID set, output into slurm/%a.out), here without a scheduler.
        Assert.Equal(0, ArrayTask(sweep, 0));
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "01-lr=1e-3", "config.json"))).RootElement;
        Assert.Equal(name, config.GetProperty("name").GetString());
        Assert.Equal(0.001, config.GetProperty("training").GetProperty("lr").GetDouble());
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
        // A database that lacks it (the task's write failed, or tasks recorded nothing) gets it from --collect, once.
        for (int i = 0; i < 2; i++) Assert.Equal(3, CliRunner.Run("sweep", "--collect", sweep, "--results", dir["other.db"]).ExitCode);
        var other = JsonDocument.Parse(CliRunner.Run("results", "--json", "--results", dir["other.db"]).Stdout).RootElement;
        Assert.Equal([Path.Combine(sweep, "01-lr=1e-3")], other.EnumerateArray().Select(x => x.GetProperty("folder").GetString()));
    }

    [Fact]
    public void Global_options_reach_an_array_task_unchanged()
    {
        var plugins = Path.Combine(CliRunner.RepoRoot, "artifacts", "plugins");
        foreach (var args in new[]
        {
            new[] { "--plugins", plugins, "--results", "runs/x.db", "--telemetry", "console", "--otlp", "http://localhost:4317/" },
            ["--results", "none"],
        })
        {
            var values = GlobalOptions.Read(args);
            var again = GlobalOptions.Read([.. values.ToArguments()]);
            Assert.Equal(values.PluginFolders, again.PluginFolders);
            Assert.Equal(values.Results is null ? null : Path.GetFullPath(values.Results), again.Results);
            Assert.Equal((values.Telemetry, values.Otlp), (again.Telemetry, again.Otlp));
        }
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
        const string head = """{ "name": "x", "source": "x.json", "created": "2026-11-26T00:00:00Z", "runs": """;
        File.WriteAllText(dir["sweep-plan.json"], head + "[null] }");
        var badPlan = CliRunner.Run("sweep", "--collect", dir.Path);
        Assert.Equal(2, badPlan.ExitCode);
        Assert.Contains("sweep-plan.json: runs[0]: missing", badPlan.Stderr);
        File.WriteAllText(dir["sweep-plan.json"], head + """[{ "index": 0, "label": "a", "folder": "../a", "overrides": [] }] }""");
        Assert.Contains("runs[0].folder", CliRunner.Run("sweep", "--collect", dir.Path).Stderr);
        var mixed = CliRunner.Run("sweep", "--collect", dir.Path, "--cpus", "2");
        Assert.Equal(2, mixed.ExitCode);
        Assert.Contains("give only the sweep folder", mixed.Stderr);

        // No scheduler on PATH: --submit says so in one line and leaves the script to submit by hand.
        var noSbatch = CliRunner.RunWith(new() { ["PATH"] = dir["empty"] }, [.. sweep, "--slurm", "--submit"]);
        Assert.Equal(2, noSbatch.ExitCode);
        Assert.Contains("sbatch not found on PATH", noSbatch.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["sweep"], "sweep.sbatch")));
    }

    [Fact]
    public void A_cancelled_array_task_records_exit_130_and_collect_calls_it_cancelled()
    {
        using var dir = new TempDir();
        var sweep = dir["sweep"];
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", "training.epochs=400", "--slurm", "--out", sweep);
        Assert.True(r.ExitCode == 0, r.Stderr);
        // As Slurm does at the time limit or on scancel: SIGTERM to every process of the task (here its own process group).
        var start = new ProcessStartInfo("setsid") { WorkingDirectory = CliRunner.RepoRoot, RedirectStandardOutput = true };
        foreach (var a in new[] { "bash", Path.Combine(sweep, "sweep.sbatch") }) start.ArgumentList.Add(a);
        start.Environment["SLURM_ARRAY_TASK_ID"] = "0";
        using var task = Process.Start(start)!;
        var log = Path.Combine(sweep, "01-epochs=400", "metrics.jsonl");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!(File.Exists(log) && new FileInfo(log).Length > 0) && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.True(File.Exists(log), "the run never started training");
        DotnetCli.Program("kill", CliRunner.RepoRoot, "-TERM", "--", $"-{task.Id}");
        Assert.True(task.WaitForExit(TimeSpan.FromMinutes(2)), "the task did not stop on SIGTERM");
        Assert.Equal("130", File.ReadAllText(Path.Combine(sweep, "slurm", "0.exit")).Trim());

        var collected = CliRunner.Run("sweep", "--collect", sweep);
        Assert.Equal(3, collected.ExitCode);
        Assert.Contains("cancelled (exit 130", collected.Stdout);
        var said = string.Join(' ', collected.Stdout.Split('\n').Select(l => l.Trim()));
        Assert.Contains($"sbatch --array=0 {Path.Combine(sweep, "sweep.sbatch")}", said);

        // Submitted again, the task moves the unfinished run aside and starts it afresh.
        Assert.Equal(0, ArrayTask(sweep, 0, "training.epochs=1"));
        Assert.Single(Directory.GetDirectories(sweep, "01-epochs=400.unfinished-*"));
    }

    static int ArrayTask(string sweep, int index, string? extraOverride = null)
    {
        var script = Path.Combine(sweep, "sweep.sbatch");
        if (extraOverride is not null)   // after the plan's overrides, so it wins
        {
            const string output = "--set \"output=$folder\"";
            File.WriteAllText(script, File.ReadAllText(script).Replace(output, $"--set '{extraOverride}' {output}"));
        }
        var r = DotnetCli.Start("bash", CliRunner.RepoRoot, new Dictionary<string, string>
        {
            ["SLURM_ARRAY_TASK_ID"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["SLURM_CPUS_PER_TASK"] = "1",
        }, script);
        File.WriteAllText(Path.Combine(sweep, "slurm", $"{index}.out"), r.Stdout + r.Stderr);
        return r.ExitCode;
    }
}
