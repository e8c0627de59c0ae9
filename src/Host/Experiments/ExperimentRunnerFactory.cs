using Microsoft.Extensions.Logging;
using PluginGpt.Core.Training;
using PluginGpt.Host.Display;
using PluginGpt.Host.Plugins;
using Spectre.Console;

namespace PluginGpt.Host.Experiments;

/// <summary>Makes experiment runners from the host's services: the plugin catalog, the console (progress display) and logging.</summary>
public sealed class ExperimentRunnerFactory(Lazy<PluginCatalog> catalog, IAnsiConsole console, ILogger<ExperimentRunner> logger)
{
    /// <summary>A runner that shows each run's progress under <paramref name="title"/>.</summary>
    public ExperimentRunner Create(string title) =>
        new(catalog.Value, (steps, work) => TrainingDisplay.Run(console, title, steps, work), logger);

    /// <summary>A runner that shows nothing (evaluation, recipes' inner stages).</summary>
    public ExperimentRunner Quiet() => new(catalog.Value, (_, work) => work(new Progress<TrainingProgress>()), logger);
}
