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
    public const int UserError = 2, InternalError = 1, Cancelled = 130;

    public async Task<int> RunAsync(string[] args, CancellationToken cancel)
    {
        var root = new RootCommand("PluginGpt: pre-train, adapt and benchmark GPT-style decoders.")
        {
            GlobalOptions.Plugins(), GlobalOptions.Telemetry(), GlobalOptions.Otlp(),
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
        catch (Exception e) when (UserErrors.Describe(e) is { } line)
        {
            await Console.Error.WriteLineAsync("error: " + line);
            return UserError;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled");
            return Cancelled;
        }
        catch (Exception e)
        {
            var log = UserErrors.WriteCrashLog(e, args);
            // LibTorch's messages carry their native stack after the first line: that belongs in the log only.
            var first = e.Message.Split('\n')[0].Trim();
            await Console.Error.WriteLineAsync($"internal error: {e.GetType().Name}: {first} (stack trace in {log})");
            if (Environment.GetEnvironmentVariable("PLUGINGPT_DEBUG") is not null) await Console.Error.WriteLineAsync(e.ToString());
            return InternalError;
        }
    }
}
