using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace PluginGpt.Host;

/// <summary>
/// OpenTelemetry through the Generic Host (OpenTelemetry.Extensions.Hosting): the providers start and flush with the host.
/// With neither <c>--telemetry</c> nor <c>--otlp</c> nothing is registered, nothing listens, and spans cost nothing.
/// </summary>
public static class TelemetrySetup
{
    public const string ServiceName = "plugingpt";

    /// <param name="extraTracing">more exporters (tests: the in-memory one), added to the same providers the CLI builds.</param>
    public static IServiceCollection AddPluginGptTelemetry(this IServiceCollection services, string? mode, Uri? otlp,
        Action<TracerProviderBuilder>? extraTracing = null, Action<MeterProviderBuilder>? extraMetrics = null)
    {
        if (mode is null && otlp is null && extraTracing is null && extraMetrics is null) return services;
        services.AddOpenTelemetry()
            .ConfigureResource(r =>
                r.AddService(ServiceName, serviceVersion: typeof(TelemetrySetup).Assembly.GetName().Version?.ToString()))
            .WithTracing(t =>
            {
                t.AddSource(Core.Telemetry.Name);
                if (mode == "console") t.AddConsoleExporter();
                if (otlp is not null) t.AddOtlpExporter(o => o.Endpoint = otlp);
                extraTracing?.Invoke(t);
            })
            .WithMetrics(m =>
            {
                m.AddMeter(Core.Telemetry.Name);
                if (mode == "console") m.AddConsoleExporter();
                if (otlp is not null) m.AddOtlpExporter(o => o.Endpoint = otlp);
                extraMetrics?.Invoke(m);
            });
        return services;
    }
}
