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
}
