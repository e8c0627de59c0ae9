using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PluginGpt.Host.Results;

/// <summary>What <c>results</c> lists: runs of a task, a method, since a time (all optional).</summary>
public sealed record ResultsFilter(string? Task = null, string? Method = null, DateTime? Since = null);

/// <summary>
/// Every finished run in one SQLite database (default <c>runs/results.db</c>): WAL journal, so readers never block the writer
/// and parallel sweep tasks (several processes) each add their rows; a writer that finds the database busy waits and retries.
/// </summary>
public sealed class ResultsStore : IDisposable
{
    public const string DefaultPath = "runs/results.db";
    const int Attempts = 20;

    readonly SqliteConnection connection;
    public string Path { get; }

    ResultsStore(string path, SqliteConnection connection)
    {
        Path = path;
        this.connection = connection;
    }

    public static ResultsStore Open(string path, int? version = null)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new DataException($"{full}: a folder, not a results database file");
        try { Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{full}: cannot make its folder ({e.Message})");
        }
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString());
        try
        {
            Retry(() =>
            {
                if (connection.State != System.Data.ConnectionState.Open) connection.Open();
                Execute(connection, "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
                ResultsSchema.Migrate(connection, full, version);
            });
            return new ResultsStore(full, connection);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new DataException($"{full}: not a usable results database ({e.Message})");
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Whether a run in <paramref name="folder"/> is recorded.</summary>
    public bool Holds(string folder)
    {
        var found = false;
        Retry(() =>
        {
            using var query = connection.CreateCommand();
            query.CommandText = "SELECT 1 FROM runs WHERE folder = $folder LIMIT 1";
            query.Parameters.AddWithValue("$folder", folder);
            found = query.ExecuteScalar() is not null;
        });
        return found;
    }

    /// <summary>Adds a run and its metrics in one transaction (all or nothing).</summary>
    public void Record(RunRecord r) => Retry(() =>
    {
        using var transaction = connection.BeginTransaction();
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO runs (id, started, name, folder, config, method, objective, task, dataset, trainable, total, precision,
                                  seconds, primary_metric, git_commit, throughput, throughput_unit, cores, matmul_gflops)
                VALUES ($id, $started, $name, $folder, $config, $method, $objective, $task, $dataset, $trainable, $total, $precision,
                        $seconds, $primary, $git, $throughput, $unit, $cores, $gflops);
                """;
            void Add(string name, object? value) => insert.Parameters.AddWithValue(name, value ?? DBNull.Value);
            Add("$id", r.Id);
            Add("$started", r.Started.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
            Add("$name", r.Name);
            Add("$folder", r.Folder);
            Add("$config", r.Config);
            Add("$method", r.Method);
            Add("$objective", r.Objective);
            Add("$task", r.Task);
            Add("$dataset", r.Dataset);
            Add("$trainable", r.TrainableParameters);
            Add("$total", r.TotalParameters);
            Add("$precision", r.Precision);
            Add("$seconds", r.Seconds);
            Add("$primary", r.PrimaryMetric);
            Add("$git", r.GitCommit);
            Add("$throughput", r.Throughput);
            Add("$unit", r.ThroughputUnit);
            Add("$cores", r.Cores);
            Add("$gflops", r.MatmulGFlops);
            insert.ExecuteNonQuery();
        }
        foreach (var (name, value) in r.Metrics.Where(m => double.IsFinite(m.Value)))
        {
            using var metric = connection.CreateCommand();
            metric.Transaction = transaction;
            metric.CommandText = "INSERT INTO metrics (run_id, name, value) VALUES ($run, $name, $value);";
            metric.Parameters.AddWithValue("$run", r.Id);
            metric.Parameters.AddWithValue("$name", name);
            metric.Parameters.AddWithValue("$value", value);
            metric.ExecuteNonQuery();
        }
        transaction.Commit();
    });

    /// <summary>The runs that pass <paramref name="filter"/>, oldest first, with their metrics.</summary>
    public IReadOnlyList<RunRecord> Query(ResultsFilter filter)
    {
        var runs = new List<RunRecord>();
        using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT id, started, name, folder, config, method, objective, task, dataset, trainable, total, precision, seconds,
                       primary_metric, git_commit, throughput, throughput_unit, cores, matmul_gflops
                FROM runs
                WHERE ($task IS NULL OR task = $task) AND ($method IS NULL OR method = $method)
                  AND ($since IS NULL OR started >= $since)
                ORDER BY started, id;
                """;
            select.Parameters.AddWithValue("$task", (object?)filter.Task ?? DBNull.Value);
            select.Parameters.AddWithValue("$method", (object?)filter.Method ?? DBNull.Value);
            select.Parameters.AddWithValue("$since",
                (object?)filter.Since?.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture) ?? DBNull.Value);
            using var reader = select.ExecuteReader();
            while (reader.Read())
                runs.Add(new RunRecord
                {
                    Id = reader.GetString(0),
                    Started = DateTime.Parse(reader.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                    Name = reader.GetString(2),
                    Folder = reader.GetString(3),
                    Config = reader.GetString(4),
                    Method = reader.GetString(5),
                    Objective = reader.GetString(6),
                    Task = reader.GetString(7),
                    Dataset = reader.GetString(8),
                    TrainableParameters = reader.GetInt64(9),
                    TotalParameters = reader.GetInt64(10),
                    Precision = reader.GetString(11),
                    Seconds = reader.GetDouble(12),
                    PrimaryMetric = reader.GetString(13),
                    GitCommit = reader.IsDBNull(14) ? null : reader.GetString(14),
                    Throughput = reader.IsDBNull(15) ? null : reader.GetDouble(15),
                    ThroughputUnit = reader.IsDBNull(16) ? null : reader.GetString(16),
                    Cores = reader.IsDBNull(17) ? null : reader.GetInt32(17),
                    MatmulGFlops = reader.IsDBNull(18) ? null : reader.GetDouble(18),
                    Metrics = new Dictionary<string, double>(),
                });
        }
        return [.. runs.Select(r => r with { Metrics = MetricsOf(r.Id) })];
    }

    Dictionary<string, double> MetricsOf(string id)
    {
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT name, value FROM metrics WHERE run_id = $id ORDER BY rowid;";
        select.Parameters.AddWithValue("$id", id);
        using var reader = select.ExecuteReader();
        var metrics = new Dictionary<string, double>();
        while (reader.Read()) metrics[reader.GetString(0)] = reader.GetDouble(1);
        return metrics;
    }

    static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="write"/> again while another process holds the database (SQLITE_BUSY / SQLITE_LOCKED), with a
    /// growing pause: the busy timeout covers most waits, this covers the ones SQLite reports at once (a WAL switch, a
    /// read-to-write upgrade).</summary>
    static void Retry(Action write)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                write();
                return;
            }
            catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6 && attempt < Attempts)
            {
                Thread.Sleep(Random.Shared.Next(10, 50) * attempt);
            }
        }
    }

    public void Dispose() => connection.Dispose();
}
