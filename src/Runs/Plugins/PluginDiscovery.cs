using System.Reflection;
using McMaster.NETCore.Plugins;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PluginGpt.Core;
using TorchSharp;

namespace PluginGpt.Runs.Plugins;

/// <summary>A plugin assembly or type that could not be used, with the one line that says why.</summary>
public sealed record PluginLoadError(string Path, string Message);

/// <summary>A plugin type found in an assembly, not yet created.</summary>
public sealed record PluginType(Type Type, string AssemblyPath, string AssemblyVersion);

/// <summary>
/// The first half of plugin loading, before the container is built: every plugin assembly under the plugin folders is loaded
/// with McMaster.NETCore.Plugins, so that the SDK, TorchSharp and the DI/logging abstractions are the host's own types
/// (otherwise <c>is IAdaptationMethod</c> fails across load contexts); its plugin types are listed and its
/// <see cref="IPluginStartup"/> registers its services. A broken assembly is recorded and skipped.
/// </summary>
public sealed class PluginDiscovery
{
    static readonly Type[] SharedTypes = [typeof(IPlugin), typeof(torch), typeof(IServiceCollection), typeof(ILogger)];
    static readonly HashSet<string> HostAssemblies = ["PluginGpt.Abstractions", "PluginGpt.Core", "TorchSharp", "plugingpt"];

    public IReadOnlyList<string> Folders { get; }
    public IReadOnlyList<PluginType> Types { get; }
    public IReadOnlyList<PluginLoadError> Errors { get; }

    PluginDiscovery(IReadOnlyList<string> folders, IReadOnlyList<PluginType> types, IReadOnlyList<PluginLoadError> errors)
    {
        Folders = folders;
        Types = types;
        Errors = errors;
    }

    /// <summary>Loads every plugin assembly in <paramref name="folders"/>; startups register into <paramref name="services"/> when
    /// given.</summary>
    public static PluginDiscovery Run(IReadOnlyList<string> folders, IServiceCollection? services = null)
    {
        var types = new List<PluginType>();
        var errors = new List<PluginLoadError>();
        foreach (var file in folders.Where(Directory.Exists).SelectMany(FindPluginAssemblies).Distinct())
            Load(file, types, errors, services);
        return new PluginDiscovery(folders, types, errors);
    }

    /// <summary>A plugin is a folder holding <c>X.dll</c> beside <c>X.deps.json</c> (what a plugin project's build writes).</summary>
    static IEnumerable<string> FindPluginAssemblies(string folder) =>
        Directory.EnumerateDirectories(folder).Prepend(folder)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.deps.json"))
            .Select(deps => deps[..^".deps.json".Length] + ".dll")
            .Where(dll => File.Exists(dll) && !HostAssemblies.Contains(Path.GetFileNameWithoutExtension(dll)))
            .Order(StringComparer.Ordinal);

    static void Load(string path, List<PluginType> types, List<PluginLoadError> errors, IServiceCollection? services)
    {
        using var span = Telemetry.Source.StartActivity("plugin.load");
        span?.SetTag("plugin.path", path);
        void Fail(string message)
        {
            errors.Add(new PluginLoadError(path, message));
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
        }
        if (DepsManifest.Problem(path[..^".dll".Length] + ".deps.json") is { } problem) { Fail(problem); return; }

        Assembly assembly;
        Type[] found;
        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(path, SharedTypes, config => config.PreferSharedTypes = true);
            assembly = loader.LoadDefaultAssembly();
            found = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            var missing = e.LoaderExceptions.OfType<FileNotFoundException>().Select(f => f.FileName).FirstOrDefault();
            Fail(missing is not null ? $"missing dependency {missing}" : e.LoaderExceptions.FirstOrDefault()?.Message ?? e.Message);
            return;
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException or InvalidOperationException)
        {
            Fail(e.Message);
            return;
        }

        var version = assembly.GetName().Version?.ToString() ?? "?";
        // Built against a newer SDK than this host's, a plugin could call members the host lacks: refuse it now, by name.
        var sdk = typeof(IPlugin).Assembly.GetName();
        if (assembly.GetReferencedAssemblies().FirstOrDefault(a => a.Name == sdk.Name) is { Version: { } wanted } && wanted > sdk.Version)
        {
            Fail($"built against PluginGpt SDK {wanted}, newer than this host's {sdk.Version}: update plugingpt");
            return;
        }
        static bool Concrete(Type t) => t is { IsClass: true, IsAbstract: false, IsPublic: true };
        if (services is not null)
            foreach (var startup in found.Where(t => Concrete(t) && typeof(IPluginStartup).IsAssignableFrom(t)))
            {
                try { ((IPluginStartup)Activator.CreateInstance(startup)!).ConfigureServices(services); }
                catch (Exception e)
                {
                    Fail($"{startup.FullName}.ConfigureServices threw: " +
                        $"{(e as TargetInvocationException)?.InnerException?.Message ?? e.Message}");
                    return;
                }
            }
        types.AddRange(found.Where(t => Concrete(t) && typeof(IPlugin).IsAssignableFrom(t)).Select(t => new PluginType(t, path, version)));
    }

}
