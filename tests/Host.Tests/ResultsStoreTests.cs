using System.Text.Json;
using Microsoft.Data.Sqlite;
using PluginGpt.Abstractions;
using PluginGpt.Runs.Results;
using Xunit;
using static PluginGpt.Host.Tests.CliTests;

namespace PluginGpt.Host.Tests;

/// <summary>Issue 12, part 1: every run in one SQLite database that parallel writers share and older versions still open.</summary>
public class ResultsStoreTests
{
    static RunRecord Row(string name, string method = "lora", double score = 0.5, long trainable = 1000) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Started = DateTime.UtcNow,
        Name = name,
        Folder = "/tmp/" + name,
        Config = "{}",
        Method = method,
        Objective = "classifier-head",
        Task = "classification",
        Dataset = "sst2",
        TrainableParameters = trainable,
        TotalParameters = 10 * trainable,
        Precision = "fp32",
        Seconds = 1.5,
        Throughput = 100,
        ThroughputUnit = "examples/s",
        Cores = 2,
        MatmulGFlops = 120,
        PrimaryMetric = "accuracy",
        Metrics = new Dictionary<string, double> { ["accuracy"] = score, ["macro_f1"] = score / 2 },
    };

    [Fact]
    public void Parallel_writers_with_their_own_connections_lose_no_row()
    {
        using var dir = new TempDir();
        var path = dir["results.db"];
        // 8 writers at once, each opening the (new) database itself, as parallel sweep tasks do.
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, w =>
        {
            using var store = ResultsStore.Open(path);
            for (int i = 0; i < 25; i++) store.Record(Row($"w{w}-{i}"));
        });
        using var reader = ResultsStore.Open(path);
        var runs = reader.Query(new ResultsFilter());
        Assert.Equal(200, runs.Count);
        Assert.Equal(200, runs.Select(r => r.Name).Distinct().Count());
        Assert.All(runs, r => Assert.Equal(2, r.Metrics.Count));
    }

    [Fact]
    public void A_database_of_the_first_layout_opens_and_is_migrated_with_its_rows()
    {
        using var dir = new TempDir();
        var path = dir["old.db"];
        using (var old = ResultsStore.Open(path, version: 1)) { }
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var insert = connection.CreateCommand();
            // What version 1 wrote: no commit, throughput or machine columns.
            insert.CommandText = """
                INSERT INTO runs VALUES ('old1', '2026-01-02T03:04:05.0000000Z', 'old run', '/r', '{}', 'full', 'classifier-head',
                                         'nli', 'rte', 10, 100, 'fp32', 2.5, 'accuracy');
                INSERT INTO metrics VALUES ('old1', 'accuracy', 0.625);
                """;
            insert.ExecuteNonQuery();
            Assert.Equal(1, ResultsSchema.Version(connection));
        }
        using var store = ResultsStore.Open(path);
        store.Record(Row("new run"));
        var runs = store.Query(new ResultsFilter());
        Assert.Equal(["old run", "new run"], runs.Select(r => r.Name));
        Assert.Equal(0.625, runs[0].Metrics["accuracy"]);
        Assert.Null(runs[0].GitCommit);
        Assert.Equal(2, runs[1].Cores);
        Assert.Single(store.Query(new ResultsFilter(Task: "nli")));
        Assert.Single(store.Query(new ResultsFilter(Since: new DateTime(2026, 6, 1, 0, 0, 0, DateTimeKind.Utc))));
    }

    [Fact]
    public void A_newer_or_broken_database_is_refused_by_name()
    {
        using var dir = new TempDir();
        var newer = dir["newer.db"];
        using (ResultsStore.Open(newer)) { }
        using (var connection = new SqliteConnection($"Data Source={newer};Pooling=False"))
        {
            connection.Open();
            using var bump = connection.CreateCommand();
            bump.CommandText = "PRAGMA user_version = 99;";
            bump.ExecuteNonQuery();
        }
        Assert.Contains("newer than this PluginGpt", Assert.Throws<DataException>(() => ResultsStore.Open(newer)).Message);
        var broken = dir["broken.db"];
        File.WriteAllText(broken, "this is not a database, it is a text file that is long enough to have a header of some sort");
        Assert.Contains(broken, Assert.Throws<DataException>(() => ResultsStore.Open(broken)).Message);
    }

    [Fact]
    public void Runs_are_recorded_by_the_CLI_and_listed_compared_and_charted()
    {
        using var dir = new TempDir();
        var db = dir["results.db"];
        var r = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["run"]}", "--set", "training.epochs=1", "--results", db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var listed = CliRunner.Run("results", "--results", db, "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        var rows = JsonDocument.Parse(listed.Stdout).RootElement;
        Assert.Equal(1, rows.GetArrayLength());
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "metrics.json"))).RootElement.GetProperty("metrics");
        Assert.Equal(metrics.GetProperty("accuracy").GetDouble(), rows[0].GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(Path.GetFullPath(dir["run"]), rows[0].GetProperty("folder").GetString());
        Assert.True(rows[0].GetProperty("throughput").GetDouble() > 0);
        Assert.Contains("\"output\"", rows[0].GetProperty("config").GetString());   // the resolved experiment itself

        var md = CliRunner.Run("results", "--results", db, "--md", "--method", "full");
        Assert.Contains("| started | name | method |", md.Stdout);
        Assert.Empty(JsonDocument.Parse(CliRunner.Run("results", "--results", db, "--json", "--method", "lora").Stdout)
            .RootElement.EnumerateArray());
        var chart = CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", dir["chart.png"]);
        Assert.True(chart.ExitCode == 0, chart.Stderr);
        Assert.True(new FileInfo(dir["chart.png"]).Length > 1000);

        OneLineError(CliRunner.Run("results", "--results", dir["missing.db"]), "not found");
        Directory.CreateDirectory(dir["charts"]);
        OneLineError(CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", dir["charts"]), "a folder");
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp.png"));
        Directory.CreateDirectory(dir["folder.db"]);
        OneLineError(CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["refused"]}", "--results", dir["folder.db"]),
            "a folder, not a results database");
        Assert.False(Directory.Exists(dir["refused"]));
        OneLineError(CliRunner.Run("results", "--results", db, "--since", "yesterday-ish"), "--since");
    }
}
