using Microsoft.Data.Sqlite;
using PluginGpt.Abstractions;
using PluginGpt.Runs;
using PluginGpt.Runs.Results;
using Xunit;
using static PluginGpt.Host.Tests.BadInputTests;

namespace PluginGpt.Host.Tests;

/// <summary>Issue 25's classes, each case as the trial found it: nothing destroyed that was not asked for, nothing reported
/// that did not happen, numbers and paths at their limits, a damaged results database — one line, exit 2, never a trace.</summary>
public class HostileInputTests
{
    static RunRecord Row(string folder, DateTime started) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        Started = started,
        Name = Path.GetFileName(folder),
        Folder = folder,
        Config = "{}",
        Method = "lora",
        Objective = "classifier-head",
        Task = "classification",
        Dataset = "sst2",
        TrainableParameters = 10,
        TotalParameters = 100,
        Precision = "fp32",
        Seconds = 1,
        PrimaryMetric = "accuracy",
        Metrics = new Dictionary<string, double> { ["accuracy"] = 0.5 },
    };

    static string Database(TempDir dir, int rows)
    {
        var path = dir["results.db"];
        using var store = ResultsStore.Open(path);
        for (int i = 0; i < rows; i++) store.Record(Row($"/runs/r{i}", DateTime.UtcNow.AddMinutes(i)));
        return path;
    }

    [Fact]
    public void Results_plot_never_replaces_the_database_or_any_file_that_is_not_a_chart()
    {
        using var dir = new TempDir();
        var db = Database(dir, 3);
        var before = File.ReadAllBytes(db);
        OneLine(CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", db), "--plot", "not a .png name");
        File.WriteAllText(dir["notes.png"], "my notes, misnamed");
        OneLine(CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", dir["notes.png"]), "is not a PNG chart");
        Assert.Equal("my notes, misnamed", File.ReadAllText(dir["notes.png"]));
        Assert.Equal(before, File.ReadAllBytes(db));

        var chart = dir["chart.png"];
        Assert.Equal(0, CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", chart).ExitCode);
        Assert.Equal(0, CliRunner.Run("results", "--results", db, "--plot", "score-vs-params", chart).ExitCode);   // a chart it drew
    }

    [Fact]
    public void A_damaged_results_database_is_one_line_and_a_bad_row_is_left_out_and_said()
    {
        using var dir = new TempDir();
        var db = Database(dir, 3);
        using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE runs SET started = 'yesterday-ish' WHERE folder = '/runs/r1'; PRAGMA wal_checkpoint(TRUNCATE);";
            command.ExecuteNonQuery();
        }
        var listed = CliRunner.Run("results", "--results", db, "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Contains("/runs/r0", listed.Stdout);
        Assert.Contains("/runs/r2", listed.Stdout);
        Assert.DoesNotContain("/runs/r1", listed.Stdout);
        Assert.Contains("'yesterday-ish' is not a date", listed.Stderr);

        // Bad pages: the tables' pages overwritten with noise, the header kept.
        var big = dir["big.db"];
        using (var store = ResultsStore.Open(big))
            for (int i = 0; i < 200; i++) store.Record(Row($"/runs/{new string('x', 200)}{i}", DateTime.UtcNow));
        var bytes = File.ReadAllBytes(big);
        new Random(1).NextBytes(bytes.AsSpan(4096, bytes.Length - 4096));
        File.WriteAllBytes(big, bytes);
        OneLine(CliRunner.Run("results", "--results", big), big);
    }

    [Fact]
    public void Collecting_one_sweep_from_two_processes_at_once_records_each_run_once()
    {
        using var dir = new TempDir();
        var db = Database(dir, 0);
        var added = 0;
        Parallel.For(0, 8, _ =>
        {
            using var store = ResultsStore.Open(db);
            for (int i = 0; i < 10; i++)
                if (store.RecordIfNew(Row($"/sweep/run{i}", DateTime.UtcNow))) Interlocked.Increment(ref added);
        });
        using var reader = ResultsStore.OpenToRead(db);
        Assert.Equal(10, reader.Query(new ResultsFilter()).Count);
        Assert.Equal(10, added);
    }

    [Theory]
    [InlineData("training.grad_clip=1e999", "training.grad_clip", "1e999")]
    [InlineData("mixing.temperature=-1e999", "mixing.temperature", "-1e999")]
    [InlineData("objective.options.dropout=1e999", "objective.options", "dropout")]
    public void Numbers_beyond_any_finite_value_are_refused_naming_the_field(string set, string field, string shown)
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", set, "--set", $"output={dir["run"]}"), field, shown, "finite");
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Output_paths_empty_too_long_or_a_folder_are_refused_before_anything_is_made()
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "output=\"\""), "output", "empty");
        var longName = new string('n', 300);
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir[longName]}"), "output", "300 bytes");
        OneLine(CliRunner.Run("sweep", Experiments.Tiny, "--grid", $"name={longName}", "--out", dir["sweep"]), "--grid", "bytes");
        Assert.False(Directory.Exists(dir["sweep"]));
        Directory.CreateDirectory(dir["a-folder"]);
        OneLine(CliRunner.Run("predict", dir["no-run"], "--input", Experiments.Tiny, "--output", dir["a-folder"]),
            "--output", "is a folder");
        Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "runs", "x"),
            OutputFolder.CheckName("~/runs/x", "output"));
    }

    [Fact]
    public void A_sweep_grid_beyond_the_limit_is_refused_at_once()
    {
        using var dir = new TempDir();
        var ten = string.Join(",", Enumerable.Range(1, 10));
        var r = CliRunner.Run("sweep", Experiments.Tiny, "--grid", $"seed={ten}", "--grid", $"training.batch_size={ten}",
            "--grid", $"training.epochs={ten}", "--grid", $"training.max_steps={ten}", "--out", dir["sweep"]);
        OneLine(r, "--grid", "10,000 combinations", "at most 1,000");
        Assert.False(Directory.Exists(dir["sweep"]));
    }

    [Fact]
    public void An_empty_training_file_is_named_and_an_empty_dev_set_refused_before_training()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["empty.tsv"], "text\tlabel\n");
        File.WriteAllText(dir["dev.tsv"], "text\tlabel\nok film\t1\nbad film\t0\n");
        string[] Run(string train, string dev) =>
            ["run", Experiments.Tiny, "--set", "task.dataset=null", "--set", $"task.train={train}", "--set", $"task.dev={dev}",
                "--set", $"output={dir["run"]}"];
        OneLine(CliRunner.Run(Run(dir["empty.tsv"], dir["dev.tsv"])), dir["empty.tsv"], "holds no rows (task.train)");
        var r = CliRunner.Run(Run(dir["dev.tsv"], dir["empty.tsv"]));
        OneLine(r, dir["empty.tsv"], "holds no rows (task.dev)");
        Assert.DoesNotContain("step", r.Stdout);   // refused before the first step, not after an epoch
    }

    [Fact]
    public void Tokenizer_train_never_writes_into_a_folder_another_process_holds_even_with_overwrite()
    {
        using var dir = new TempDir();
        var corpus = Path.Combine(CliRunner.RepoRoot, "data", "corpus", "sst2-sentences.txt");
        using (PluginGpt.Core.Training.OutputLock.Acquire(dir["tok"], "--out"))
        {
            File.WriteAllText(Path.Combine(dir["tok"], "vocab.json"), "{\"theirs\": 0}");
            OneLine(CliRunner.Run("tokenizer", "train", "--corpus", corpus, "--vocab-size", "300", "--out", dir["tok"], "--overwrite",
                "--sample-mb", "0.1"), "in use by another plugingpt process");
            Assert.Equal("{\"theirs\": 0}", File.ReadAllText(Path.Combine(dir["tok"], "vocab.json")));
        }
    }

    [Fact]
    public void A_prediction_line_beyond_the_limit_is_refused_without_holding_it()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["in.txt"], "a fine film\n" + new string('x', PredictionInput.MaxLineChars + 10) + "\nanother\n");
        var e = Assert.Throws<DataException>(() => PredictionInput.Read(dir["in.txt"], InputFormat.Single));
        Assert.Contains(dir["in.txt"] + ":2:", e.Message);
        File.WriteAllText(dir["ok.txt"], "a fine film\r\nanother one\n\nlast");
        Assert.Equal(["a fine film", "another one", "last"],
            PredictionInput.Read(dir["ok.txt"], InputFormat.Single).Select(x => x.Segments[0]));
    }

    [Fact]
    public void NaN_weights_in_best_are_refused_alike_by_evaluate_and_predict()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        var trained = CliRunner.Run("run", Experiments.Tiny, "--set", "method.name=lora", "--set", "training.epochs=1",
            "--set", "training.max_steps=2", "--set", $"output={run}");
        Assert.True(trained.ExitCode == 0, trained.Stderr);
        // Every float of the first tensor of each best/ file becomes NaN (safetensors: 8-byte header length, JSON header, data).
        foreach (var file in Directory.GetFiles(Path.Combine(run, "best"), "*.safetensors"))
        {
            var bytes = File.ReadAllBytes(file);
            long headerLength = BitConverter.ToInt64(bytes, 0);
            var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)).RootElement;
            var first = header.EnumerateObject().First(t => t.Name != "__metadata__").Value.GetProperty("data_offsets");
            for (long at = 8 + headerLength + first[0].GetInt64(); at < 8 + headerLength + first[1].GetInt64(); at += 4)
                BitConverter.GetBytes(float.NaN).CopyTo(bytes, at);
            File.WriteAllBytes(file, bytes);
        }
        File.WriteAllText(dir["in.txt"], "a fine film\n");
        OneLine(CliRunner.Run("evaluate", run), "best", "NaN or infinite");
        OneLine(CliRunner.Run("predict", run, "--input", dir["in.txt"]), "best", "NaN or infinite");
    }

    [Fact]
    public void Predict_needs_only_the_run_folder_not_the_training_files()
    {
        using var dir = new TempDir();
        var rows = string.Concat(Enumerable.Range(0, 24)
            .Select(i => i % 2 == 0 ? $"a fine warm film {i}\tpos\n" : $"a dull cold film {i}\tneg\n"));
        File.WriteAllText(dir["train.tsv"], "text\tlabel\n" + rows);
        File.WriteAllText(dir["dev.tsv"], "text\tlabel\n" + rows);
        var run = dir["run"];
        var trained = CliRunner.Run("run", Experiments.Tiny, "--set", "task.dataset=null", "--set", $"task.train={dir["train.tsv"]}",
            "--set", $"task.dev={dir["dev.tsv"]}", "--set", "training.max_steps=2", "--set", $"output={run}");
        Assert.True(trained.ExitCode == 0, trained.Stderr);
        File.Delete(dir["train.tsv"]);
        File.Delete(dir["dev.tsv"]);
        File.WriteAllText(dir["in.txt"], "a fine warm film\n");
        var predicted = CliRunner.Run("predict", run, "--input", dir["in.txt"]);
        Assert.True(predicted.ExitCode == 0, predicted.Stderr);
        var line = System.Text.Json.JsonDocument.Parse(predicted.Stdout.Trim()).RootElement;
        Assert.Contains(line.GetProperty("label").GetString(), new[] { "neg", "pos" });
    }
}
