using System.Text.Json;
using PluginGpt.Abstractions;

namespace BrokenPlugin;

/// <summary>Throws while the host creates it.</summary>
public sealed class ThrowingMethod : IAdaptationMethod
{
    public ThrowingMethod() => throw new InvalidOperationException("deliberately broken constructor");
    public PluginManifest Manifest => throw new NotSupportedException();
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new NotSupportedException();
}

/// <summary>Built for a contract version this host does not speak.</summary>
public sealed class FutureMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("future", PluginKind.Method, "9.0.0", "targets contract 99", ContractMajor: 99);
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new NotSupportedException();
}
