using System.Diagnostics;

namespace PluginGpt.Host.Tests;

/// <summary>Runs the built <c>plugingpt</c> as a separate process, as a user would, and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWith([], args);

    /// <summary>As <see cref="Run"/>, with extra environment variables.</summary>
    public static Result RunWith(Dictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoRoot,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("PLUGINGPT_DEBUG");
        // Runs are recorded in this test process's own results database, never in the repository's runs/results.db (tests
        // that check recording pass --results, which wins).
        start.Environment["PLUGINGPT_RESULTS"] = TestResults;
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(true); throw new TimeoutException(string.Join(' ', args)); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string RepoRoot => PluginGpt.TestSupport.RepoPaths.Root;

    static readonly string TestResults =
        Path.Combine(Path.GetTempPath(), $"plugingpt-tests-{Environment.ProcessId}", "results.db");
}
