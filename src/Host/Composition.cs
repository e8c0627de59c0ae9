using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using PluginGpt.Core.NativeRuntime;
using PluginGpt.Host.Commands;
using PluginGpt.Host.Logging;
using PluginGpt.Runs.Plugins;
using Spectre.Console;

namespace PluginGpt.Host;

/// <summary>Builds and runs the host: every service the commands use comes from here.</summary>
public static class Composition
{
    /// <summary>How long a cancelled command may take to finish (pre-training saves a checkpoint on Ctrl+C or SIGTERM).</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromMinutes(10);

    public static async Task<int> RunAsync(string[] args)
    {
        // malloc's arenas are fixed at a thread's first allocation, so the heap settings must hold from the process's start.
        if (args.Length > 0 && !args.Any(a => a is "-h" or "--help" or "-?" or "--version")) HeapSettings.RestartWithTunables();
        try
        {
            var globals = GlobalOptions.Read(args);
            using var host = Build(args, globals);
            var exit = host.Services.GetRequiredService<ExitCode>();
            await host.RunAsync();   // returns when the command line service has stopped the host (and disposes it)
            return exit.Value;
        }
        catch (Exception e)
        {
            // Start-up failures (bad global options, unreadable plugin folders, telemetry set-up) end as the commands' do.
            return await Cli.Report(e, args);
        }
    }

    public static IHost Build(string[] args, GlobalOptions.Values globals)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(
            new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders()
            .AddConsole(o => { o.FormatterName = CliConsoleFormatter.FormatterName; o.LogToStandardErrorThreshold = LogLevel.Trace; })
            .AddConsoleFormatter<CliConsoleFormatter, ConsoleFormatterOptions>()
            .SetMinimumLevel(LogLevel.Warning);   // information goes to run.log; the console gets warnings and errors
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        // Plugins are discovered before the container is built, so their startups can register services of their own.
        var discovery = PluginDiscovery.Run(globals.PluginFolders, builder.Services);
        builder.Services.AddSingleton(discovery);
        builder.Services.AddSingleton<PluginCatalog>();
        builder.Services.AddSingleton(sp =>
            new Lazy<PluginCatalog>(sp.GetRequiredService<PluginCatalog>));   // created when a command needs it
        builder.Services.AddSingleton(globals);
        builder.Services.AddSingleton<ExperimentRunnerFactory>();
        builder.Services.AddPluginGptTelemetry(globals.Telemetry, globals.Otlp);
        builder.Services.AddPluginGptCli(args);
        return builder.Build();
    }

    static IServiceCollection AddPluginGptCli(this IServiceCollection services, string[] args)
    {
        var console = AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive) console.Profile.Width = 160;   // logs and pipes: no wrapping at 80 columns
        services.AddSingleton(console);
        foreach (var command in new[]
                 {
                     typeof(PretrainCommand), typeof(GenerateCommand), typeof(InspectCommand), typeof(BenchCommand), typeof(PluginsCommand),
                     typeof(RunCommand), typeof(TokenizerCommand), typeof(EvaluateCommand), typeof(PredictCommand),
                     typeof(QuickstartCommand), typeof(SweepCommand), typeof(StudyCommand),
                     typeof(DoctorCommand), typeof(VerifyCommand), typeof(ExportCommand), typeof(ResultsCommand), typeof(ConvertCommand),
                     typeof(AdaptersCommand),
                     typeof(ComparePretrainingCommand), typeof(EvaluateLmCommand),
                 })
            services.AddSingleton(typeof(ICliCommand), command);
        services.AddSingleton<Cli>();
        services.AddSingleton(new CommandLineArgs(args));
        services.AddSingleton<ExitCode>();
        services.AddHostedService<CommandLineService>();
        return services;
    }
}

/// <summary>The process's arguments, as the command line service parses them.</summary>
public sealed record CommandLineArgs(string[] Value);

/// <summary>The exit code the command set, returned by <c>Main</c> once the host has stopped; a command that never finished is a
/// bug.</summary>
public sealed class ExitCode
{
    public int Value { get; set; } = Cli.InternalError;
}

/// <summary>Runs the command line once, then stops the host; the host's stopping token (Ctrl+C, SIGTERM) cancels the command.</summary>
public sealed class CommandLineService(Cli cli, CommandLineArgs args, ExitCode exit, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();   // let the host finish starting, so its signal handling is live while the command runs
        // The first Ctrl+C or SIGTERM cancels the command (pre-training saves a checkpoint); a second one kills the process at
        // once (a graceful exit would wait for the command). Files already written stay whole: every write is a rename.
        int signals = 0;
        void Force(PosixSignalContext context)
        {
            if (Interlocked.Increment(ref signals) > 1) System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Force);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Force);
        try { exit.Value = await cli.RunAsync(args.Value, stoppingToken); }
        finally { lifetime.StopApplication(); }
    }
}
