using System.Diagnostics;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// <c>pet</c> (Schick &amp; Schütze 2021): for every pattern, its zero-shot accuracy on the training set T weighs its models'
/// votes; <c>models_per_pattern</c> models per pattern are trained on T with the <c>pet</c> objective; their weighted
/// ensemble labels the unlabelled pool D softly (softmax of the mean scores at temperature T); a final classifier is distilled
/// from D. The report lists every pattern zero-shot and trained (mean over its models), the ensemble and the distilled model,
/// all scored on the dev set, which picks nothing.
/// </summary>
public sealed class PetRecipe : IRecipe
{
    public PluginManifest Manifest { get; } = new("pet", PluginKind.Recipe, "1.0.0",
        "PET: one model per pattern × seed on T, an accuracy-weighted ensemble soft-labels D, a classifier distilled from D.");

    public async Task<RunResult> RunAsync(ExperimentSpec spec, IExperimentRunner runner, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        var options = PluginOptions.Bind<RecipeOptions>(spec.Recipe?.Options ?? default, RecipeOptions.Section);
        var stages = new RecipeStages(runner, spec, options, "pet", cancel);
        var report = new List<StageResult>();
        var models = new List<ModelScores>();
        for (int p = 0; p < stages.Patterns.Count; p++)
        {
            var (zeroShot, weight) = await stages.ZeroShotAsync(p);
            report.Add(zeroShot);
            var trained = new List<IReadOnlyDictionary<string, double>>();
            for (int m = 0; m < options.ModelsPerPattern; m++)
            {
                var (scores, metrics) = await stages.TrainAsync(p, m, weight, stages.Data.Train);
                models.Add(scores);
                trained.Add(metrics);
            }
            report.Add(RecipeStages.Mean($"{stages.Patterns[p].Name} trained", trained));
        }
        var (ensemble, softLabelled) = stages.EnsembleStage("ensemble", models);
        report.Add(ensemble);
        if (options.Distill) report.Add(await stages.DistillAsync(softLabelled));
        return runner.Report(spec.Output!, spec, report, watch.Elapsed.TotalSeconds);
    }
}
