using System.Text.Json;
using PluginGpt.Abstractions;

namespace MissingDependencyPlugin;

/// <summary>Inherits from a type in DependencyLib.dll; without that file the assembly's types cannot load.</summary>
public sealed class DependentMethod : DependencyLib.MethodBase, IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("dependent", PluginKind.Method, "1.0.0", "needs DependencyLib.dll");
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new NotSupportedException();
}
