namespace PluginGpt.Abstractions;

/// <summary>The kinds of plugin; an experiment is method × objective × task, recipes chain experiments, callbacks act on
/// training events.</summary>
public enum PluginKind
{
    /// <summary>An <see cref="IAdaptationMethod"/>: what of the model trains, and how.</summary>
    Method,
    /// <summary>An <see cref="IObjective"/>: how examples become a loss and predictions.</summary>
    Objective,
    /// <summary>An <see cref="ITaskPlugin"/>: data, labels and metrics.</summary>
    Task,
    /// <summary>An <see cref="IRecipe"/>: several experiments run as stages of one.</summary>
    Recipe,
    /// <summary>An <see cref="ITrainingCallback"/>: acts on a run's training events. Since SDK 2.4.</summary>
    Callback,
}

/// <summary>What a plugin says about itself; <see cref="ContractMajor"/> must equal the host's
/// <see cref="ContractVersion.Major"/>.</summary>
/// <param name="Name">what experiment files and <c>--method</c> call it (case-insensitive); a second plugin of the same kind and
/// name is skipped with a warning.</param>
/// <param name="Kind">which interface the plugin implements.</param>
/// <param name="Version">the plugin's own version, recorded in every run's provenance.</param>
/// <param name="Description">one line for <c>plugingpt plugins</c>.</param>
/// <param name="ContractMajor">the SDK major version the plugin was built against; leave the default.</param>
public sealed record PluginManifest(string Name, PluginKind Kind, string Version, string Description,
    int ContractMajor = ContractVersion.Major);

/// <summary>Every plugin type: a public, non-abstract class implementing one kind's interface, created by the host's DI container
/// (its constructor may take <c>ILogger&lt;T&gt;</c> and services an <see cref="IPluginStartup"/> registered).</summary>
public interface IPlugin
{
    /// <summary>The plugin's name, kind and versions; read once when the host loads it.</summary>
    PluginManifest Manifest { get; }
}
