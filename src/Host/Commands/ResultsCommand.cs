using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PluginGpt.Runs;
using PluginGpt.Runs.Reports;
using PluginGpt.Runs.Results;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt results</c>: the runs in the results database, filtered, as a table, Markdown or JSON, and the
/// score-against-trainable-parameters chart.</summary>
public sealed class ResultsCommand(IAnsiConsole console, GlobalOptions.Values globals) : ICliCommand
{
    public Command Build()
    {
        var task = new Option<string?>("--task") { Description = "only runs of this task plugin (classification, nli, …, multi-task)" };
        var method = new Option<string?>("--method") { Description = "only runs of this method (lora, full, …)" };
        var since = new Option<string?>("--since") { Description = "only runs started on or after this date (2026-11-26 or an ISO time)" };
        var json = new Option<bool>("--json") { Description = "every field and metric as JSON" };
        var md = new Option<bool>("--md") { Description = "a Markdown table" };
        var plot = new Option<string[]>("--plot")
        {
            Description = "score-vs-params OUT.png: score against trainable parameters per method",
            Arity = new ArgumentArity(2, 2),
            AllowMultipleArgumentsPerToken = true,
        };
        var bench = new Option<bool>("--bench")
        {
            Description = "list the recorded benchmark results (plugingpt bench …) with their CPU, cores and commit instead of runs",
        };
        var command = new Command("results", "List and compare the runs recorded in the results database (--results).")
        { task, method, since, json, md, plot, bench };
        command.SetAction((parse, cancel) =>
        {
            DateTime? from = null;
            if (parse.GetValue(since) is { } text)
                from = DateTime.TryParse(text, CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
                    ? parsed : throw new OptionsException($"--since: '{text}' is not a date (e.g. 2026-11-26)");
            if (parse.GetValue(plot) is { Length: 2 } chart && chart[0] != "score-vs-params")
                throw new OptionsException($"--plot: unknown chart '{chart[0]}'; known: score-vs-params");
            if (parse.GetValue(plot) is { Length: 2 } named) OutputFile.CheckChart(named[1], "--plot");
            var database = globals.Results ?? throw new OptionsException("--results: 'none' records nothing, so there is nothing to list");
            if (parse.GetValue(json) && parse.GetValue(md)) throw new OptionsException("--json / --md: choose one");
            if (Directory.Exists(database))
                throw new OptionsException($"--results: {Path.GetFullPath(database)} is a folder, not a database");
            if (!File.Exists(database))
                throw new OptionsException($"--results: {Path.GetFullPath(database)} not found (no run has been recorded there yet)");
            using var store = ResultsStore.OpenToRead(database);
            if (parse.GetValue(bench))
            {
                var records = store.QueryBench();
                foreach (var skippedRow in store.Skipped) Console.Error.WriteLine($"{store.Path}: left out {skippedRow}");
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(records, new JsonSerializerOptions
                    {
                        WriteIndented = true,
                        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                    }));
                else if (parse.GetValue(md)) Console.Write(BenchHistory.Markdown(records));
                else console.Write(BenchHistory.Table(records));
                return Task.FromResult(0);
            }
            var runs = store.Query(new ResultsFilter(parse.GetValue(task), parse.GetValue(method), from));
            foreach (var skippedRow in store.Skipped) Console.Error.WriteLine($"{store.Path}: left out {skippedRow}");
            if (parse.GetValue(plot) is { Length: 2 } wanted)
            {
                var chartPath = OutputFile.CheckChart(wanted[1], "--plot");
                Directory.CreateDirectory(Path.GetDirectoryName(chartPath)!);
                var png = ScoreVsParametersChart.Write(chartPath, runs);
                console.MarkupLineInterpolated($"chart of {runs.Count} runs: {png}");
                return Task.FromResult(0);
            }
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(runs, new JsonSerializerOptions
                {
                    WriteIndented = true,
                    PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                }));
            else if (parse.GetValue(md)) Console.Write(Markdown(runs));
            else console.Write(Table(runs));
            return Task.FromResult(0);
        });
        return command;
    }

    static readonly string[] Columns = ["started", "name", "method", "objective", "task", "dataset", "score", "trainable", "seconds",
        "train MiB"];

    static IEnumerable<string[]> Rows(IReadOnlyList<RunRecord> runs) => runs.Select(r => new[]
    {
        r.Started.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), r.Name, r.Method, r.Objective, r.Task, r.Dataset,
        r.PrimaryScore is { } s ? string.Create(CultureInfo.InvariantCulture, $"{r.PrimaryMetric} {s:F4}") : "–",
        r.TrainableParameters.ToString("N0", CultureInfo.InvariantCulture), r.Seconds.ToString("F1", CultureInfo.InvariantCulture),
        r.TrainingMemoryMb is { } mib ? mib.ToString("F0", CultureInfo.InvariantCulture) : "–",
    });

    static Table Table(IReadOnlyList<RunRecord> runs)
    {
        var table = new Table { Title = new TableTitle($"{runs.Count} runs") }.AddColumns(Columns);
        foreach (var row in Rows(runs)) table.AddRow([.. row.Select(Markup.Escape)]);
        return table;
    }

    static string Markdown(IReadOnlyList<RunRecord> runs)
    {
        var md = new StringBuilder($"| {string.Join(" | ", Columns)} |\n|{string.Concat(Columns.Select(_ => "---|"))}\n");
        foreach (var row in Rows(runs)) md.AppendLine($"| {string.Join(" | ", row.Select(c => c.Replace("|", "\\|")))} |");
        return md.ToString();
    }
}
