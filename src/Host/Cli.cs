using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using PluginGpt.Host.Commands;
using Spectre.Console;

namespace PluginGpt.Host;

/// <summary>The <c>plugingpt</c> command tree; every failure the user can fix ends as one line on stderr and exit code 2.</summary>
public sealed class Cli(IEnumerable<ICliCommand> commands)
{
    public const int UserError = 2;

    public async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("PluginGpt: pre-train, adapt and benchmark GPT-style decoders.");
        root.Add(GlobalOptions.Plugins);
        root.Add(GlobalOptions.Telemetry);
        root.Add(GlobalOptions.Otlp);
        foreach (var command in commands) root.Add(command.Build());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors) await Console.Error.WriteLineAsync("error: " + e.Message);
            return UserError;
        }
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var telemetry = TelemetrySetup.Start(parsed.GetValue(GlobalOptions.Telemetry), parsed.GetValue(GlobalOptions.Otlp));
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token);
        }
        catch (Exception e) when (UserErrors.Describe(e) is { } line)
        {
            await Console.Error.WriteLineAsync("error: " + line);
            return UserError;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("PLUGINGPT_DEBUG") is null)
        {
            // A bug (ours or a plugin's): still one line; PLUGINGPT_DEBUG=1 shows the stack trace.
            await Console.Error.WriteLineAsync($"internal error: {e.GetType().Name}: {e.Message} (set PLUGINGPT_DEBUG=1 for the stack trace)");
            return 1;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}

public static class CliServices
{
    public static IServiceCollection AddPluginGptCli(this IServiceCollection services)
    {
        var console = AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 160;   // logs and pipes: no wrapping at 80 columns
        services.AddSingleton(console);
        services.AddSingleton<ICliCommand, PretrainCommand>();
        services.AddSingleton<ICliCommand, GenerateCommand>();
        services.AddSingleton<ICliCommand, InspectCommand>();
        services.AddSingleton<ICliCommand, BenchCommand>();
        services.AddSingleton<ICliCommand, PluginsCommand>();
        services.AddSingleton<ICliCommand, RunCommand>();
        services.AddSingleton<ICliCommand, TokenizerCommand>();
        services.AddSingleton<ICliCommand, EvaluateCommand>();
        services.AddSingleton<ICliCommand, QuickstartCommand>();
        services.AddSingleton<ICliCommand, SweepCommand>();
        services.AddSingleton<ICliCommand, DoctorCommand>();
        services.AddSingleton<Cli>();
        return services;
    }
}
