using Microsoft.Extensions.DependencyInjection;

namespace PluginGpt.Abstractions;

/// <summary>
/// Optional: registers services of the plugin's own (a cache, a client, options) in the host's container before it is built.
/// Plugins are created through the container, so their constructors may ask for these and for the host's services
/// (<c>ILogger&lt;T&gt;</c>, <c>IServiceProvider</c>). The host runs every public class implementing it, with a public
/// parameterless constructor, in every plugin assembly it loads, for every command (keep it cheap: register, do not work).
/// If it throws, the assembly's plugins are skipped with one warning (what it registered before throwing stays).
/// </summary>
public interface IPluginStartup
{
    /// <summary>Adds the plugin's services to <paramref name="services"/>, the host's collection before the container is
    /// built.</summary>
    void ConfigureServices(IServiceCollection services);
}
