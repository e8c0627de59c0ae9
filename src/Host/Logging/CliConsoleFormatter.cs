using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace PluginGpt.Host.Logging;

/// <summary>
/// A command-line tool's log lines: <c>warning: …</c> / <c>error: …</c> on stderr, one line each, no category or timestamp
/// (the console logger's own formats print two lines per entry or a category name users do not need).
/// </summary>
public sealed class CliConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "plugingpt";

    public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopes, TextWriter writer)
    {
        var message = entry.Formatter(entry.State, entry.Exception);
        var level = entry.LogLevel switch
        {
            LogLevel.Warning => "warning",
            LogLevel.Error or LogLevel.Critical => "error",
            _ => "info",
        };
        writer.WriteLine($"{level}: {message}");
    }
}
