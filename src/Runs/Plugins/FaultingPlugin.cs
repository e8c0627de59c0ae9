using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;

namespace PluginGpt.Runs.Plugins;

/// <summary>
/// Which plugin a bug came from: the innermost stack frame whose code was loaded in a plugin's own load context (every plugin
/// assembly is, by McMaster's loader), so a plugin author's exception is reported under the plugin's name, not as
/// PluginGpt's own internal error.
/// </summary>
public static class FaultingPlugin
{
    /// <summary>The plugin assembly's name and file, or null when no plugin code is on the exception's stack.</summary>
    public static (string Name, string File)? Find(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            foreach (var frame in new StackTrace(current, fNeedFileInfo: false).GetFrames())
            {
                var assembly = frame.GetMethod()?.DeclaringType?.Assembly;
                if (assembly is not null && IsPlugin(assembly)) return (assembly.GetName().Name ?? "?", assembly.Location);
            }
        }
        return null;
    }

    static bool IsPlugin(Assembly assembly) =>
        AssemblyLoadContext.GetLoadContext(assembly) is { } context && context != AssemblyLoadContext.Default
        && !assembly.GetName().Name!.StartsWith("PluginGpt.Abstractions", StringComparison.Ordinal);
}
