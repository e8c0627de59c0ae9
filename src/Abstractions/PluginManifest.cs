namespace PluginGpt.Abstractions;

/// <summary>The four kinds of plugin; an experiment is method × objective × task, recipes chain experiments.</summary>
public enum PluginKind { Method, Objective, Task, Recipe }

/// <summary>What a plugin says about itself; <see cref="ContractMajor"/> must equal the host's
/// <see cref="ContractVersion.Major"/>.</summary>
public sealed record PluginManifest(string Name, PluginKind Kind, string Version, string Description,
    int ContractMajor = ContractVersion.Major);

/// <summary>Every plugin type: a public class with a parameterless constructor implementing one kind's interface.</summary>
public interface IPlugin
{
    PluginManifest Manifest { get; }
}
