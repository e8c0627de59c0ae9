using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace PluginGpt.Runs.Results;

/// <summary>The results database's benchmark rows: <c>plugingpt bench …</c> records each result, <c>results --bench</c> lists
/// them.</summary>
public sealed partial class ResultsStore
{
    /// <summary>Adds a benchmark result.</summary>
    public void RecordBench(BenchRecord r) => Retry(() =>
    {
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO benchmarks (id, started, command, arguments, cpu, cores, precision, git_commit, figures)
            VALUES ($id, $started, $command, $arguments, $cpu, $cores, $precision, $git, $figures);
            """;
        Bind(insert, ("$id", r.Id), ("$started", r.Started.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)),
            ("$command", r.Command), ("$arguments", r.Arguments), ("$cpu", r.Cpu), ("$cores", r.Cores),
            ("$precision", r.Precision), ("$git", r.GitCommit), ("$figures", r.FiguresJson));
        insert.ExecuteNonQuery();
    });

    /// <summary>Binds each named value (null as SQL NULL).</summary>
    static void Bind(SqliteCommand command, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
    }

    /// <summary>The benchmark results (of one bench command, or all), oldest first; damaged rows are left out and said in
    /// <see cref="Skipped"/>.</summary>
    public IReadOnlyList<BenchRecord> QueryBench(string? command = null)
    {
        var rows = new List<BenchRecord>();
        try
        {
            using var select = connection.CreateCommand();
            select.CommandText = """
                SELECT id, started, command, arguments, cpu, cores, precision, git_commit, figures FROM benchmarks
                WHERE ($command IS NULL OR command = $command) ORDER BY started, id;
                """;
            select.Parameters.AddWithValue("$command", (object?)command ?? DBNull.Value);
            using var reader = select.ExecuteReader();
            while (reader.Read())
            {
                string id = reader.GetString(0);
                Dictionary<string, double>? figures = null;
                try { figures = JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(8)); }
                catch (JsonException) { }
                if (figures is null || !DateTime.TryParse(reader.GetValue(1).ToString(), CultureInfo.InvariantCulture,
                        DateTimeStyles.RoundtripKind, out var started))
                {
                    skipped.Add($"benchmark {id}: its start time or figures cannot be read");
                    continue;
                }
                rows.Add(new BenchRecord
                {
                    Id = id,
                    Started = started,
                    Command = reader.GetString(2),
                    Arguments = reader.GetString(3),
                    Cpu = reader.IsDBNull(4) ? null : reader.GetString(4),
                    Cores = reader.IsDBNull(5) ? null : reader.GetInt32(5),
                    Precision = reader.IsDBNull(6) ? null : reader.GetString(6),
                    GitCommit = reader.IsDBNull(7) ? null : reader.GetString(7),
                    Figures = figures,
                });
            }
        }
        catch (Exception e) when (e is SqliteException or InvalidCastException)
        {
            throw new DataException($"{Path}: the benchmarks table cannot be read ({e.Message.Split('\n')[0]})");
        }
        return rows;
    }
}
