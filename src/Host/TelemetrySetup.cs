using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace PluginGpt.Host;

/// <summary>Turns on the exporters the command line asks for; with neither option nothing listens and spans cost nothing.</summary>
public static class TelemetrySetup
{
    public static IDisposable Start(string? mode, string? otlp)
    {
        if (mode is null && otlp is null) return new Nothing();
        if (mode is not (null or "console")) throw new ArgumentException($"--telemetry: expected 'console', got '{mode}'");
        Uri? endpoint = null;
        if (otlp is not null && !Uri.TryCreate(otlp, UriKind.Absolute, out endpoint)) throw new ArgumentException($"--otlp: '{otlp}' is not an absolute URI");
        var tracing = Sdk.CreateTracerProviderBuilder().AddSource(Core.Telemetry.Name);
        var metrics = Sdk.CreateMeterProviderBuilder().AddMeter(Core.Telemetry.Name);
        if (mode == "console") { tracing.AddConsoleExporter(); metrics.AddConsoleExporter(); }
        if (endpoint is not null) { tracing.AddOtlpExporter(o => o.Endpoint = endpoint); metrics.AddOtlpExporter(o => o.Endpoint = endpoint); }
        return new Providers(tracing.Build()!, metrics.Build()!);
    }

    sealed class Providers(TracerProvider tracer, MeterProvider meter) : IDisposable
    {
        public void Dispose() { meter.ForceFlush(); tracer.ForceFlush(); meter.Dispose(); tracer.Dispose(); }
    }

    sealed class Nothing : IDisposable { public void Dispose() { } }
}
