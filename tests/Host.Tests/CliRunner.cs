namespace PluginGpt.Host.Tests;

/// <summary>Runs the built <c>plugingpt</c> as a separate process, as a user would, and captures what it prints.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWith([], args);

    /// <summary>As <see cref="Run"/>, with extra environment variables.</summary>
    public static Result RunWith(Dictionary<string, string> environment, params string[] args)
    {
        // Runs are recorded in this test process's own results database, never in the repository's runs/results.db (tests
        // that check recording pass --results, which wins).
        var variables = new Dictionary<string, string> { ["PLUGINGPT_RESULTS"] = TestResults };
        foreach (var (name, value) in environment) variables[name] = value;
        var r = DotnetCli.Start("dotnet", RepoRoot, variables, TimeSpan.FromMinutes(5),
            [Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"), .. args]);
        return new Result(r.ExitCode, r.Stdout, r.Stderr);
    }

    public static string RepoRoot => PluginGpt.TestSupport.RepoPaths.Root;

    static readonly string TestResults =
        Path.Combine(Path.GetTempPath(), $"plugingpt-tests-{Environment.ProcessId}", "results.db");
}
