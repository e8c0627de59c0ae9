using System.Diagnostics;
using System.Text.Json;

namespace PluginGpt.Host.Bench;

/// <summary>One side of a comparison: a label, the shell command that measures, and the JSON field of its output to read.</summary>
public sealed record ComparedCommand(string Label, string Figure, string Command)
{
    /// <summary>Reads <c>LABEL|FIGURE|COMMAND</c> (the command may hold further <c>|</c>).</summary>
    public static ComparedCommand Parse(string spec)
    {
        var parts = spec.Split('|', 3);
        if (parts.Length < 3 || parts.Any(p => p.Trim().Length == 0))
            throw new OptionsException($"--run '{spec}': expected LABEL|FIGURE|COMMAND, e.g. " +
                "'ours|fp32_train_tokens_per_s|plugingpt bench train --json'");
        return new ComparedCommand(parts[0].Trim(), parts[1].Trim(), parts[2].Trim());
    }
}

/// <summary>A command's figure in each round, and its ratio to the first command's in the same round (rounds whose first figure
/// was 0 have no ratio, so JSON and the results database never see NaN).</summary>
public sealed record ComparedFigures(ComparedCommand Command, IReadOnlyList<double> Values, IReadOnlyList<double> RatiosToFirst);

/// <summary>
/// Runs commands alternately for N rounds (A B A B …, so drifting machine load falls on both) and reads one figure from each
/// run's JSON output: the ratios of the same round compare like with like. Any program may take part — a peer in another
/// language is a command line, so the product needs no Python.
/// </summary>
public static class BenchComparison
{
    public static IReadOnlyList<ComparedFigures> Run(IReadOnlyList<ComparedCommand> commands, int rounds,
        Action<string> progress, CancellationToken cancel)
    {
        if (commands.Count < 2) throw new OptionsException("--run: give at least two commands to compare");
        if (rounds < 1) throw new OptionsException($"--rounds: {rounds} is not a positive number of rounds");
        var values = commands.Select(_ => new List<double>()).ToList();
        for (int round = 1; round <= rounds; round++)
            for (int i = 0; i < commands.Count; i++)
            {
                cancel.ThrowIfCancellationRequested();
                progress($"round {round}/{rounds}: {commands[i].Label}");
                values[i].Add(Measure(commands[i], cancel));
            }
        return [.. commands.Select((c, i) => new ComparedFigures(c, values[i],
            [.. values[i].Zip(values[0]).Where(p => p.Second != 0).Select(p => p.First / p.Second)]))];
    }

    /// <summary>The figure a command's output holds: the last JSON object printed (the whole output, or a line) that has it.</summary>
    public static double? ReadFigure(string output, string figure)
    {
        var candidates = new List<string> { output.Trim() };
        candidates.AddRange(output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith('{')).Reverse());
        foreach (var text in candidates)
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(figure, out var v) &&
                    v.ValueKind == JsonValueKind.Number)
                    return v.GetDouble();
            }
            catch (JsonException) { }
        }
        return null;
    }

    static double Measure(ComparedCommand c, CancellationToken cancel)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(c.Command);
        using var process = Process.Start(start) ?? throw new OptionsException($"--run {c.Label}: /bin/sh could not be started");
        var output = process.StandardOutput.ReadToEndAsync(cancel);
        var errors = process.StandardError.ReadToEndAsync(cancel);
        try { process.WaitForExitAsync(cancel).GetAwaiter().GetResult(); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
        if (process.ExitCode != 0)
        {
            var last = errors.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "no message";
            throw new OptionsException($"--run {c.Label}: the command exited with {process.ExitCode}: {last}");
        }
        return ReadFigure(output.Result, c.Figure)
            ?? throw new OptionsException($"--run {c.Label}: its output holds no JSON object with a number '{c.Figure}'");
    }
}
