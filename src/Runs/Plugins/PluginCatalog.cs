using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace PluginGpt.Runs.Plugins;

/// <summary>A plugin created and checked: its manifest, the instance, and the assembly (and folder) it came from.</summary>
public sealed record LoadedPlugin(PluginManifest Manifest, IPlugin Instance, string AssemblyPath, string AssemblyVersion)
{
    /// <summary>What a run records about the plugin it used, so a later evaluation can find it again.</summary>
    public PluginProvenance Provenance =>
        new(Manifest.Name, Manifest.Version, Path.GetFileName(AssemblyPath), AssemblyVersion, Path.GetDirectoryName(AssemblyPath)!);
}

/// <summary>
/// The second half of plugin loading: every discovered plugin type is created through the container (constructor injection:
/// <c>ILogger&lt;T&gt;</c>, the plugin's own services) and checked: contract version, kind, unique name. A plugin that
/// fails is recorded and skipped; each failure is one warning line, logged the first time the catalog is used.
/// </summary>
public sealed class PluginCatalog
{
    public IReadOnlyList<LoadedPlugin> Plugins { get; }
    public IReadOnlyList<PluginLoadError> Errors { get; }
    public IReadOnlyList<string> Folders { get; }

    public PluginCatalog(PluginDiscovery discovery, IServiceProvider services, ILogger<PluginCatalog>? logger = null)
    {
        var plugins = new List<LoadedPlugin>();
        var errors = new List<PluginLoadError>(discovery.Errors);
        foreach (var found in discovery.Types) Create(found, services, plugins, errors);
        Plugins = plugins;
        Errors = errors;
        Folders = discovery.Folders;
        foreach (var e in errors)
            (logger ?? NullLogger<PluginCatalog>.Instance).LogWarning("plugin {Path} skipped: {Message}", e.Path, e.Message);
    }

    /// <summary>The plugins of <paramref name="folders"/> with logging and their own services only (tests, tools).</summary>
    public static PluginCatalog Load(IReadOnlyList<string> folders)
    {
        var services = new ServiceCollection().AddLogging();
        var discovery = PluginDiscovery.Run(folders, services);
        return new PluginCatalog(discovery, services.BuildServiceProvider());
    }

    /// <summary>The plugin of <paramref name="kind"/> called <paramref name="name"/>; an unknown name lists the known ones.</summary>
    public T Get<T>(PluginKind kind, string name, string field) where T : class, IPlugin => (T)Find(kind, name, field).Instance;

    public LoadedPlugin Find(PluginKind kind, string name, string field, PluginProvenance? recorded = null)
    {
        var match = Plugins.FirstOrDefault(p =>
            p.Manifest.Kind == kind && string.Equals(p.Manifest.Name, name, StringComparison.OrdinalIgnoreCase));
        if (match is not null) return match;
        var known = Plugins.Where(p => p.Manifest.Kind == kind).Select(p => p.Manifest.Name).Order();
        var hint = recorded is null ? ""
            : $"; the run used it from {recorded.Folder} ({recorded.Assembly} {recorded.AssemblyVersion}): " +
                $"pass --plugins {recorded.Folder}";
        throw new OptionsException(
            $"{field}: unknown {kind.ToString().ToLowerInvariant()} '{name}'; known: {string.Join(", ", known)}{hint}");
    }

    static void Create(PluginType found, IServiceProvider services, List<LoadedPlugin> plugins, List<PluginLoadError> errors)
    {
        var (type, path, version) = (found.Type, found.AssemblyPath, found.AssemblyVersion);
        IPlugin instance;
        PluginManifest m;
        try
        {
            instance = (IPlugin)ActivatorUtilities.CreateInstance(services, type);
            m = instance.Manifest;
        }
        catch (Exception e)
        {
            errors.Add(new PluginLoadError(path,
                $"{type.FullName} threw on creation: {(e as TargetInvocationException)?.InnerException?.Message ?? e.Message}"));
            return;
        }
        if (m.ContractMajor != ContractVersion.Major)
            errors.Add(new PluginLoadError(path,
                $"{m.Name} targets contract version {m.ContractMajor}, this host speaks {ContractVersion.Major}"));
        else if (plugins.Any(p => p.Manifest.Kind == m.Kind && string.Equals(p.Manifest.Name, m.Name, StringComparison.OrdinalIgnoreCase)))
            errors.Add(new PluginLoadError(path,
                $"{m.Kind.ToString().ToLowerInvariant()} '{m.Name}' is already provided by another plugin"));
        else if (!KindMatches(instance, m.Kind))
            errors.Add(new PluginLoadError(path, $"{m.Name} says it is a {m.Kind} but does not implement that interface"));
        else plugins.Add(new LoadedPlugin(m, instance, path, version));
    }

    static bool KindMatches(IPlugin p, PluginKind kind) => kind switch
    {
        PluginKind.Method => p is IAdaptationMethod,
        PluginKind.Objective => p is IObjective,
        PluginKind.Task => p is ITaskPlugin,
        PluginKind.Callback => p is ITrainingCallback,
        _ => p is IRecipe,
    };
}
