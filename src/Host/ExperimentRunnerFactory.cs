using Microsoft.Extensions.Logging;
using PluginGpt.Core.Training;
using PluginGpt.Host.Display;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using Spectre.Console;

namespace PluginGpt.Host;

/// <summary>Makes experiment runners from the host's services: the plugin catalog, the console (progress display) and logging.</summary>
public sealed class ExperimentRunnerFactory(Lazy<PluginCatalog> catalog, IAnsiConsole console, ILogger<ExperimentRunner> logger,
    GlobalOptions.Values globals)
{
    /// <summary>A runner that shows each run's progress under <paramref name="title"/> (a recipe's stages with their names).</summary>
    public ExperimentRunner Create(string title) =>
        new(catalog.Value, (run, steps, work) => TrainingDisplay.Run(console, StageTitle(title, run), steps, work), logger)
        {
            ResultsPath = globals.Results,
        };

    static string StageTitle(string title, string run) =>
        run.IndexOf('/') is var slash and >= 0 ? $"{title} · {run[(slash + 1)..]}" : title;

    /// <summary>Finished runs, reopened (evaluate, predict, export, generate, named adapters).</summary>
    public FinishedRuns Finished() => Quiet().Finished;

    /// <summary>A runner that shows nothing (evaluation, recipes' inner stages).</summary>
    public ExperimentRunner Quiet() => new(catalog.Value, (_, _, work) => work(new Progress<TrainingProgress>()), logger)
    {
        ResultsPath = globals.Results,
    };
}
