using Microsoft.Extensions.DependencyInjection;

namespace PluginGpt.Abstractions;

/// <summary>
/// Optional, one per plugin assembly: registers services of the plugin's own (a cache, a client, options) in the host's
/// container before it is built. Plugins are created through the container, so their constructors may ask for these and
/// for the host's services (<c>ILogger&lt;T&gt;</c>, <c>IServiceProvider</c>). Needs a public parameterless constructor.
/// </summary>
public interface IPluginStartup
{
    void ConfigureServices(IServiceCollection services);
}
