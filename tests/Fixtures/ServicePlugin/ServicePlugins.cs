using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PluginGpt.Abstractions;

namespace ServicePlugin;

/// <summary>A service of the plugin's own, registered before the host's container is built.</summary>
public sealed record Greeting(string Text);

public sealed class Startup : IPluginStartup
{
    public void ConfigureServices(IServiceCollection services) =>
        services.AddSingleton(new Greeting("registered by the plugin's own startup"));
}

/// <summary>Created by the host's container: its constructor takes the plugin's service and the host's logging.</summary>
public sealed class ServiceMethod(Greeting greeting, ILogger<ServiceMethod> logger) : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("with-services", PluginKind.Method, "1.0.0", greeting.Text);

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        logger.LogInformation("attached");
        return new TrainedParameters([]);
    }
}
