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
    readonly Option<string?> task = new("--task") { Description = "only runs of this task plugin (classification, nli, …, multi-task)" };
    readonly Option<string?> method = new("--method") { Description = "only runs of this method (lora, full, …)" };
    readonly Option<string?> since = new("--since") { Description = "only runs started on or after this date (2026-11-26 or an ISO time)" };
    readonly Option<bool> json = new("--json") { Description = "every field and metric as JSON" };
    readonly Option<bool> md = new("--md") { Description = "a Markdown table" };
    readonly Option<string[]> plot = new("--plot")
    {
        Description = "score-vs-params OUT.png: score against trainable parameters per method",
        Arity = new ArgumentArity(2, 2),
        AllowMultipleArgumentsPerToken = true,
    };
    readonly Option<bool> bench = new("--bench")
    {
        Description = "list the recorded benchmark results (plugingpt bench …) with their CPU, cores and commit instead of runs",
    };

    public Command Build()
    {
        var command = new Command("results", "List and compare the runs recorded in the results database (--results).")
        { task, method, since, json, md, plot, bench };
        command.SetAction((parse, cancel) =>
        {
            var from = CheckOptions(parse);
            using var store = ResultsStore.OpenToRead(globals.Results!);
            if (parse.GetValue(bench)) ShowBench(parse, store);
            else ShowRuns(parse, store, from);
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The options checked, and the database there to read; the date <c>--since</c> names, if any.</summary>
    DateTime? CheckOptions(ParseResult parse)
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
        return from;
    }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    void ShowBench(ParseResult parse, ResultsStore store)
    {
        var records = store.QueryBench();
        foreach (var skippedRow in store.Skipped) Console.Error.WriteLine($"{store.Path}: left out {skippedRow}");
        if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(records, JsonOptions));
        else if (parse.GetValue(md)) Console.Write(BenchHistory.Markdown(records));
        else console.Write(BenchHistory.Table(records));
    }

    void ShowRuns(ParseResult parse, ResultsStore store, DateTime? from)
    {
        var runs = store.Query(new ResultsFilter(parse.GetValue(task), parse.GetValue(method), from));
        foreach (var skippedRow in store.Skipped) Console.Error.WriteLine($"{store.Path}: left out {skippedRow}");
        if (parse.GetValue(plot) is { Length: 2 } wanted)
        {
            var chartPath = OutputFile.CheckChart(wanted[1], "--plot");
            Directory.CreateDirectory(Path.GetDirectoryName(chartPath)!);
            var png = ScoreVsParametersChart.Write(chartPath, runs);
            console.MarkupLineInterpolated($"chart of {runs.Count} runs: {png}");
        }
        else if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(runs, JsonOptions));
        else if (parse.GetValue(md)) Console.Write(Markdown(runs));
        else console.Write(Table(runs));
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
