using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PluginGpt.Runs.Results;

/// <summary>What <c>results</c> lists: runs of a task, a method, since a time (all optional).</summary>
public sealed record ResultsFilter(string? Task = null, string? Method = null, DateTime? Since = null);

/// <summary>
/// Every finished run in one SQLite database (default <c>runs/results.db</c>): WAL journal, so readers never block the writer
/// and parallel sweep tasks (several processes) each add their rows; a writer that finds the database busy waits and retries.
/// </summary>
public sealed partial class ResultsStore : IDisposable
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
        return Connect(full, new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }, "usable", connection =>
        {
            Execute(connection, "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
            ResultsSchema.Migrate(connection, full, version);
        });
    }

    /// <summary>Opens the connection and runs <paramref name="prepare"/> (retried while busy); a SQLite error is one line naming
    /// the file, and the connection never outlives a failure.</summary>
    static ResultsStore Connect(string full, SqliteConnectionStringBuilder settings, string kind, Action<SqliteConnection> prepare)
    {
        var connection = new SqliteConnection(settings.ToString());
        try
        {
            Retry(() =>
            {
                if (connection.State != System.Data.ConnectionState.Open) connection.Open();
                prepare(connection);
            });
            return new ResultsStore(full, connection);
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new DataException($"{full}: not a {kind} results database ({e.Message.TrimEnd('.')})");
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="path"/> to read only: nothing is created, migrated or locked for writing, so a database on a
    /// read-only file or file system (a results archive, a CI artifact) lists like any other. Its version must be this
    /// PluginGpt's: an older one is brought up to date by any command that records a run.</summary>
    public static ResultsStore OpenToRead(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new DataException($"{full}: a folder, not a results database file");
        if (!File.Exists(full)) throw new DataException($"{full}: not found (no run has been recorded there yet)");
        // immutable=1: SQLite reads the file without its -wal/-shm companions or locks, which a read-only place cannot hold.
        var writable = IsWritable(full);
        var source = writable ? full : "file:" + Uri.EscapeDataString(full).Replace("%2F", "/", StringComparison.Ordinal) + "?immutable=1";
        var settings = new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        return Connect(full, settings, "readable", connection =>
        {
            Execute(connection, "PRAGMA busy_timeout = 10000;");
            int version = ResultsSchema.Version(connection);
            if (version != ResultsSchema.Current)
                throw new DataException($"{full}: results database version {version}, this PluginGpt reads {ResultsSchema.Current}" +
                    (version < ResultsSchema.Current
                        ? "; record a run into it (or copy it somewhere writable) to update it"
                        : "; update PluginGpt"));
        });
    }

    static bool IsWritable(string file)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            var probe = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, $".plugingpt-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Rows <see cref="Query"/> could not read (a damaged value) and left out, with why.</summary>
    public IReadOnlyList<string> Skipped => skipped;
    readonly List<string> skipped = [];

    /// <summary>Adds a run and its metrics in one transaction (all or nothing).</summary>
    public void Record(RunRecord r) => Insert(r, onlyNewFolder: false);

    /// <summary>Adds the run unless a run of its folder is recorded; the check and the insert are one write transaction, so two
    /// processes collecting one sweep at once record it once. Whether it was added.</summary>
    public bool RecordIfNew(RunRecord r) => Insert(r, onlyNewFolder: true);

    bool Insert(RunRecord r, bool onlyNewFolder)
    {
        bool added = false;
        Retry(() =>
        {
            using var transaction = connection.BeginTransaction();   // BEGIN IMMEDIATE: the write lock before the check
            if (onlyNewFolder)
            {
                using var held = connection.CreateCommand();
                held.Transaction = transaction;
                held.CommandText = "SELECT 1 FROM runs WHERE folder = $folder LIMIT 1";
                held.Parameters.AddWithValue("$folder", r.Folder);
                if (held.ExecuteScalar() is not null) return;
            }
            InsertRows(r, transaction);
            transaction.Commit();
            added = true;
        });
        return added;
    }

    void InsertRows(RunRecord r, SqliteTransaction transaction)
    {
        using (var insert = connection.CreateCommand())
        {
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO runs (id, started, name, folder, config, method, objective, task, dataset, trainable, total, precision,
                                  seconds, primary_metric, git_commit, throughput, throughput_unit, cores, matmul_gflops,
                                  training_memory_mb)
                VALUES ($id, $started, $name, $folder, $config, $method, $objective, $task, $dataset, $trainable, $total, $precision,
                        $seconds, $primary, $git, $throughput, $unit, $cores, $gflops, $memory);
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
            Add("$memory", r.TrainingMemoryMb);
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
    }

    /// <summary>The runs that pass <paramref name="filter"/>, oldest first, with their metrics.</summary>
    public IReadOnlyList<RunRecord> Query(ResultsFilter filter)
    {
        try { return QueryRows(filter); }
        catch (Exception e) when (e is SqliteException or InvalidCastException or FormatException)
        {
            // Damaged pages (SQLITE_CORRUPT), a value of the wrong type: one line naming the file.
            throw new DataException($"{Path}: the results database is damaged ({e.Message.Split('\n')[0].TrimEnd('.')}); " +
                "keep a copy and record into a new --results");
        }
    }

    IReadOnlyList<RunRecord> QueryRows(ResultsFilter filter)
    {
        var runs = new List<RunRecord>();
        using (var select = connection.CreateCommand())
        {
            select.CommandText = """
                SELECT id, started, name, folder, config, method, objective, task, dataset, trainable, total, precision, seconds,
                       primary_metric, git_commit, throughput, throughput_unit, cores, matmul_gflops, training_memory_mb
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
            {
                // One damaged row (a hand edit, a bad date) is left out and said, not the end of every listing.
                if (!DateTime.TryParse(reader.IsDBNull(1) ? null : reader.GetValue(1).ToString(), CultureInfo.InvariantCulture,
                        DateTimeStyles.RoundtripKind, out var started))
                {
                    skipped.Add($"run {reader.GetValue(0)}: its start time '{reader.GetValue(1)}' is not a date");
                    continue;
                }
                runs.Add(new RunRecord
                {
                    Id = reader.GetString(0),
                    Started = started,
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
                    TrainingMemoryMb = reader.IsDBNull(19) ? null : reader.GetDouble(19),
                    Metrics = new Dictionary<string, double>(),
                });
            }
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
