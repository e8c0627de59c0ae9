namespace PluginGpt.Abstractions;

/// <summary>The four kinds of plugin; an experiment is method × objective × task, recipes chain experiments.</summary>
public enum PluginKind { Method, Objective, Task, Recipe }

/// <summary>What a plugin says about itself; <see cref="ContractMajor"/> must equal the host's
/// <see cref="ContractVersion.Major"/>.</summary>
public sealed record PluginManifest(string Name, PluginKind Kind, string Version, string Description,
    int ContractMajor = ContractVersion.Major);

/// <summary>Every plugin type: a public, non-abstract class implementing one kind's interface, created by the host's DI container
/// (its constructor may take <c>ILogger&lt;T&gt;</c> and services an <see cref="IPluginStartup"/> registered).</summary>
public interface IPlugin
{
    PluginManifest Manifest { get; }
}
