using Microsoft.Extensions.Logging;

namespace PluginGpt.Runs;

/// <summary>
/// A run's <c>run.log</c> as an <see cref="ILogger"/>: every entry is a timestamped line in the run folder, and warnings
/// and errors also go to the host's logger (stderr). Hand-written because Microsoft.Extensions.Logging ships no file
/// provider, and a run's log must live in its own folder.
/// </summary>
public sealed class RunLog(string path, ILogger host) : ILogger, IDisposable
{
    readonly StreamWriter writer = new(path, append: true) { AutoFlush = true };

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        lock (writer)
            writer.WriteLine($"{DateTime.UtcNow:O} " +
                $"{(logLevel >= LogLevel.Warning ? logLevel.ToString().ToLowerInvariant() + ": " : "")}{message}");
        if (logLevel >= LogLevel.Warning) host.Log(logLevel, eventId, state, exception, formatter);
    }

    public void Dispose() => writer.Dispose();
}
