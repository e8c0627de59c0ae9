using Microsoft.Data.Sqlite;

namespace PluginGpt.Runs.Results;

/// <summary>
/// The results database's layout, versioned in SQLite's <c>user_version</c>: each step migrates one version to the next, in a
/// transaction, so a database written by an older PluginGpt opens (and is brought up to date) and one from a newer PluginGpt is
/// refused by name instead of being misread.
/// </summary>
public static class ResultsSchema
{
    /// <summary>Version n is reached by running steps 0 … n − 1.</summary>
    public static readonly IReadOnlyList<string> Steps =
    [
        // 1: runs and their metrics.
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY, started TEXT NOT NULL, name TEXT NOT NULL, folder TEXT NOT NULL, config TEXT NOT NULL,
            method TEXT NOT NULL, objective TEXT NOT NULL, task TEXT NOT NULL, dataset TEXT NOT NULL,
            trainable INTEGER NOT NULL, total INTEGER NOT NULL, precision TEXT NOT NULL, seconds REAL NOT NULL,
            primary_metric TEXT NOT NULL);
        CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, name TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY (run_id, name));
        """,
        // 2: where and how fast a run ran, the code it ran, and an index for the usual filters.
        """
        ALTER TABLE runs ADD COLUMN git_commit TEXT;
        ALTER TABLE runs ADD COLUMN throughput REAL;
        ALTER TABLE runs ADD COLUMN throughput_unit TEXT;
        ALTER TABLE runs ADD COLUMN cores INTEGER;
        ALTER TABLE runs ADD COLUMN matmul_gflops REAL;
        CREATE INDEX runs_by_task ON runs(task, method, started);
        """,
        // 3: the memory training added at its peak.
        """
        ALTER TABLE runs ADD COLUMN training_memory_mb REAL;
        """,
        // 4: benchmark results, with the machine and the code they measured.
        """
        CREATE TABLE benchmarks (
            id TEXT PRIMARY KEY, started TEXT NOT NULL, command TEXT NOT NULL, arguments TEXT NOT NULL, cpu TEXT, cores INTEGER,
            precision TEXT, git_commit TEXT, figures TEXT NOT NULL);
        CREATE INDEX benchmarks_by_command ON benchmarks(command, started);
        """,
    ];

    public static int Current => Steps.Count;

    /// <summary>Brings <paramref name="connection"/>'s database to <see cref="Current"/> (or up to <paramref name="target"/>, for
    /// tests that make an old database). Each step reads the version inside its own write transaction, so processes opening a
    /// new database at once migrate it once.</summary>
    public static void Migrate(SqliteConnection connection, string path, int? target = null)
    {
        int goal = target ?? Current;
        while (true)
        {
            using var transaction = connection.BeginTransaction();   // BEGIN IMMEDIATE: one writer at a time
            int version = Version(connection, transaction);
            if (version > Current)
                throw new DataException($"{path}: results database version {version} is newer than this PluginGpt's {Current}; " +
                    "update PluginGpt");
            if (version >= goal) return;
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Steps[version] + $"\nPRAGMA user_version = {version + 1};";
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    public static int Version(SqliteConnection connection, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar());
    }
}
