using System.Diagnostics;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Runs the .NET SDK (<c>dotnet pack</c>, <c>build</c>, <c>new</c>, <c>tool install</c>) or any program as a user would
/// in a shell, failing the test with everything it printed when it does not exit with 0.</summary>
public static class DotnetCli
{
    public static string Dotnet(string workingDirectory, params string[] args) => Program("dotnet", workingDirectory, args);

    /// <summary>What a started program did: the exit code and everything printed.</summary>
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <paramref name="program"/> and returns its standard output, failing the test unless it exits with 0.</summary>
    public static string Program(string program, string workingDirectory, params string[] args)
    {
        var r = Start(program, workingDirectory, new Dictionary<string, string>(), args);
        Assert.True(r.ExitCode == 0, $"{program} {string.Join(' ', args)} exited with {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        return r.Stdout;
    }

    /// <summary>Runs <paramref name="program"/> with extra environment variables, up to 10 minutes, whatever its exit code.</summary>
    public static Outcome Start(string program, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        params string[] args) => Start(program, workingDirectory, environment, TimeSpan.FromMinutes(10), args);

    /// <summary>Runs <paramref name="program"/> with extra environment variables, up to <paramref name="timeout"/>, whatever its
    /// exit code.</summary>
    public static Outcome Start(string program, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        TimeSpan timeout, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("PLUGINGPT_DEBUG");
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(true); throw new TimeoutException($"{program} {string.Join(' ', args)}"); }
        return new Outcome(p.ExitCode, output.Result, errors.Result);
    }

    /// <summary>A package version of its own per test run, so NuGet's global cache never serves an older build.</summary>
    public static string UniqueVersion(int major, int minor) =>
        $"{major}.{minor}.{DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1_700_000_000}";

    /// <summary>Takes <paramref name="versions"/> of package <paramref name="id"/> out of NuGet's global packages folder (where
    /// restore extracts every package, once per version, as NuGet itself reports it): a test's unique versions are not left to
    /// pile up in the user's cache.</summary>
    public static void ForgetPackage(string id, params string[] versions)
    {
        var listed = Dotnet(Path.GetTempPath(), "nuget", "locals", "global-packages", "--list").Trim();
        const string label = "global-packages:";
        Assert.StartsWith(label, listed);
        foreach (var version in versions)
        {
            var folder = Path.Combine(listed[label.Length..].Trim(), id.ToLowerInvariant(), version);
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
        }
    }

    public static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar)[0] is "bin" or "obj") continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
    }
}
