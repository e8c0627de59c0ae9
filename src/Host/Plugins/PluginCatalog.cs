using System.Reflection;
using McMaster.NETCore.Plugins;
using PluginGpt.Core;
using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Host.Plugins;

/// <summary>A plugin found and instantiated: its manifest, the instance, and the assembly it came from.</summary>
public sealed record LoadedPlugin(PluginManifest Manifest, IPlugin Instance, string AssemblyPath, string AssemblyVersion);

/// <summary>A plugin assembly or type that could not be used, with the one line that says why.</summary>
public sealed record PluginLoadError(string Path, string Message);

/// <summary>
/// Every plugin under the plugin folders, loaded with McMaster.NETCore.Plugins so that the contracts, the core and
/// TorchSharp are the host's own types (otherwise <c>is IAdaptationMethod</c> fails across load contexts).
/// A broken plugin is recorded and skipped; the others keep working.
/// </summary>
public sealed class PluginCatalog
{
    static readonly Type[] SharedTypes = [typeof(IPlugin), typeof(Decoder), typeof(torch)];
    static readonly HashSet<string> SharedAssemblies = ["PluginGpt.Abstractions", "PluginGpt.Core", "TorchSharp", "plugingpt"];

    public IReadOnlyList<LoadedPlugin> Plugins { get; }
    public IReadOnlyList<PluginLoadError> Errors { get; }

    PluginCatalog(IReadOnlyList<LoadedPlugin> plugins, IReadOnlyList<PluginLoadError> errors) { Plugins = plugins; Errors = errors; }

    /// <summary>The plugin of <paramref name="kind"/> called <paramref name="name"/>; an unknown name lists the known ones.</summary>
    public T Get<T>(PluginKind kind, string name, string field) where T : class, IPlugin
    {
        var match = Plugins.FirstOrDefault(p => p.Manifest.Kind == kind && string.Equals(p.Manifest.Name, name, StringComparison.OrdinalIgnoreCase));
        if (match?.Instance is T plugin) return plugin;
        var known = Plugins.Where(p => p.Manifest.Kind == kind).Select(p => p.Manifest.Name).Order();
        throw new ArgumentException($"{field}: unknown {kind.ToString().ToLowerInvariant()} '{name}'; known: {string.Join(", ", known)}");
    }

    /// <summary>The catalog of the command line's plugin folders; each plugin that failed to load is one warning line on stderr.</summary>
    public static PluginCatalog ForCommandLine(System.CommandLine.ParseResult parse)
    {
        var catalog = Load(PluginFolders.Resolve(parse.GetValue(GlobalOptions.Plugins)));
        foreach (var e in catalog.Errors) Console.Error.WriteLine($"warning: plugin {e.Path} skipped: {e.Message}");
        return catalog;
    }

    public static PluginCatalog Load(IEnumerable<string> folders)
    {
        var plugins = new List<LoadedPlugin>();
        var errors = new List<PluginLoadError>();
        foreach (var file in folders.Where(Directory.Exists).SelectMany(FindPluginAssemblies).Distinct())
            LoadAssembly(file, plugins, errors);
        return new PluginCatalog(plugins, errors);
    }

    /// <summary>A plugin is a folder holding <c>X.dll</c> beside <c>X.deps.json</c> (what a plugin project's build writes).</summary>
    static IEnumerable<string> FindPluginAssemblies(string folder) =>
        Directory.EnumerateDirectories(folder).Prepend(folder)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.deps.json"))
            .Select(deps => deps[..^".deps.json".Length] + ".dll")
            .Where(dll => File.Exists(dll) && !SharedAssemblies.Contains(Path.GetFileNameWithoutExtension(dll)))
            .Order(StringComparer.Ordinal);

    static void LoadAssembly(string path, List<LoadedPlugin> plugins, List<PluginLoadError> errors)
    {
        using var span = Telemetry.Source.StartActivity("plugin.load");
        span?.SetTag("plugin.path", path);
        Type[] types;
        Assembly assembly;
        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(path, SharedTypes, config => config.PreferSharedTypes = true);
            assembly = loader.LoadDefaultAssembly();
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            var missing = e.LoaderExceptions.OfType<FileNotFoundException>().Select(f => f.FileName).FirstOrDefault();
            errors.Add(new PluginLoadError(path, missing is not null ? $"missing dependency {missing}" : e.LoaderExceptions.FirstOrDefault()?.Message ?? e.Message));
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            return;
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException or InvalidOperationException)
        {
            errors.Add(new PluginLoadError(path, e.Message));
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            return;
        }
        var version = assembly.GetName().Version?.ToString() ?? "?";
        foreach (var type in types.Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && typeof(IPlugin).IsAssignableFrom(t)))
        {
            IPlugin instance;
            try { instance = (IPlugin)Activator.CreateInstance(type)!; }
            catch (Exception e)
            {
                errors.Add(new PluginLoadError(path, $"{type.FullName} threw on creation: {(e as TargetInvocationException)?.InnerException?.Message ?? e.Message}"));
                continue;
            }
            var m = instance.Manifest;
            if (m.ContractMajor != ContractVersion.Major)
                errors.Add(new PluginLoadError(path, $"{m.Name} targets contract version {m.ContractMajor}, this host speaks {ContractVersion.Major}"));
            else if (plugins.Any(p => p.Manifest.Kind == m.Kind && string.Equals(p.Manifest.Name, m.Name, StringComparison.OrdinalIgnoreCase)))
                errors.Add(new PluginLoadError(path, $"{m.Kind.ToString().ToLowerInvariant()} '{m.Name}' is already provided by another plugin"));
            else if (!KindMatches(instance, m.Kind))
                errors.Add(new PluginLoadError(path, $"{m.Name} says it is a {m.Kind} but does not implement that interface"));
            else plugins.Add(new LoadedPlugin(m, instance, path, version));
        }
    }

    static bool KindMatches(IPlugin p, PluginKind kind) => kind switch
    {
        PluginKind.Method => p is IAdaptationMethod,
        PluginKind.Objective => p is IObjective,
        PluginKind.Task => p is ITaskPlugin,
        _ => p is IRecipe,
    };
}
