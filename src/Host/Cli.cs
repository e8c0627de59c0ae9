using System.CommandLine;
using PluginGpt.Host.Commands;

namespace PluginGpt.Host;

/// <summary>
/// The <c>plugingpt</c> command tree. A failure the user can fix (<see cref="UserInputException"/> and the few framework
/// exceptions that mean the same) is one line on stderr and exit code 2; anything else is a bug: one line pointing to a
/// log file that holds the stack trace, exit code 1.
/// </summary>
public sealed class Cli(IEnumerable<ICliCommand> commands)
{
    /// <summary>Exit codes: 2 the user's input, 1 a bug, 3 a check that did not pass (verify, doctor), 130 cancelled.</summary>
    public const int UserError = 2, InternalError = 1, CheckFailed = 3, Cancelled = 130;

    public async Task<int> RunAsync(string[] args, CancellationToken cancel)
    {
        var root = new RootCommand("PluginGpt: pre-train, adapt and benchmark GPT-style decoders.")
        {
            GlobalOptions.Plugins(), GlobalOptions.Telemetry(), GlobalOptions.Otlp(), GlobalOptions.Results(),
        };
        foreach (var command in commands) root.Add(command.Build());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) await Console.Error.WriteLineAsync("error: " + e.Message);
            return UserError;
        }
        try
        {
            // The host owns Ctrl+C and SIGTERM (one mechanism, a timeout long enough to save): System.CommandLine's own handler is off.
            return await parsed.InvokeAsync(
                new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return Cancelled;
        }
        catch (Exception e)
        {
            return await Report(e, args);
        }
    }

    /// <summary>One line on stderr for a failed command: the user's error (exit 2) or a bug with its crash log (exit 1).</summary>
    public static async Task<int> Report(Exception e, string[] args)
    {
        if (UserErrors.Describe(e) is { } line)
        {
            await Console.Error.WriteLineAsync("error: " + line);
            return UserError;
        }
        string where;
        try { where = $"stack trace in {UserErrors.WriteCrashLog(e, args)}"; }
        catch (Exception) { where = "no crash log could be written"; }
        // LibTorch's messages carry their native stack after the first line: that belongs in the log only.
        var first = e.Message.Split('\n')[0].Trim();
        // A plugin's bug is the plugin author's to fix: name the plugin, not PluginGpt.
        var source = Runs.Plugins.FaultingPlugin.Find(e) is { } plugin ? $"a bug in plugin {plugin.Name} ({plugin.File})"
            : "internal error";
        await Console.Error.WriteLineAsync($"{source}: {e.GetType().Name}: {first} ({where})");
        if (Environment.GetEnvironmentVariable("PLUGINGPT_DEBUG") is not null) await Console.Error.WriteLineAsync(e.ToString());
        return InternalError;
    }
}
