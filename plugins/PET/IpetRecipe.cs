using System.Diagnostics;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>
/// <c>ipet</c> (Schick &amp; Schütze 2021, §3.3): generation 0 is PET's ensemble trained on T; in every later generation each
/// model is trained afresh on T plus examples of the pool labelled by a random <c>ensemble_share</c> of the previous
/// generation's other models, |T|·growth^g − |T| of them, T's label ratio kept, drawn by the ensemble's confidence. The last
/// generation's ensemble soft-labels the pool and a final classifier is distilled from it, as in PET.
/// </summary>
public sealed class IpetRecipe : IRecipe
{
    public PluginManifest Manifest { get; } = new("ipet", PluginKind.Recipe, "1.0.0",
        "iPET: generations of PET models, each trained on T plus pool examples labelled by the previous generation; then distilled.");

    public sealed record Options : RecipeOptions
    {
        /// <summary>Generations of models (PET: 3).</summary>
        public int Generations { get; init; } = 3;
        /// <summary>The share of the previous generation's other models that label a model's new examples (PET: 0.25).</summary>
        public double EnsembleShare { get; init; } = 0.25;
        /// <summary>d: generation g trains on |T|·d^g examples (PET: 5).</summary>
        public double Growth { get; init; } = 5;
        /// <summary>iPET from |T| = 0 (the PET paper's zero-shot iPET): T is left out, and the untrained patterns' zero-shot
        /// ensemble labels the first generation's examples.</summary>
        public bool ZeroShot { get; init; }
        /// <summary>Zero-shot iPET: the first generation's training set, all labels together (PET: 10), times d per generation.</summary>
        public int ZeroShotExamples { get; init; } = 10;
        /// <summary>Zero-shot iPET: the first generation draws each label's examples among the pool's n likeliest for that label
        /// (PET's <c>n_most_likely</c>: 100), so the untrained ensemble's few confident guesses are used.</summary>
        public int NMostLikely { get; init; } = 100;
    }

    public async Task<RunResult> RunAsync(ExperimentSpec spec, IExperimentRunner runner, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        const string section = RecipeOptions.Section;
        var options = PluginOptions.Bind<Options>(spec.Recipe?.Options ?? default, section);
        PluginOptions.Require(options.Generations is >= 1 and <= MaxGenerations, section, "generations",
            $"must be in [1, {MaxGenerations}], got {options.Generations}");
        PluginOptions.Require(options.EnsembleShare is > 0 and <= 1, section, "ensemble_share",
            $"must be in (0, 1], got {options.EnsembleShare}");
        PluginOptions.Require(options.Growth > 1, section, "growth", $"must be > 1, got {options.Growth}");
        PluginOptions.Require(options.ZeroShotExamples >= 1, section, "zero_shot_examples",
            $"must be ≥ 1, got {options.ZeroShotExamples}");
        PluginOptions.Require(options.NMostLikely >= 1, section, "n_most_likely", $"must be ≥ 1, got {options.NMostLikely}");
        var stages = new RecipeStages(runner, spec, options, "ipet", cancel, leaveOutTraining: options.ZeroShot);
        var data = stages.Data;
        CheckGrowth(options, data);   // before any stage: an impossible last generation must not cost the earlier ones
        var report = new List<StageResult>();
        var weights = new List<double>();
        var zeroShotModels = new List<ModelScores>();
        for (int p = 0; p < stages.Patterns.Count; p++)
        {
            var (zeroShot, weight) = await stages.ZeroShotAsync(p);
            report.Add(zeroShot);
            weights.Add(weight);
            if (options.ZeroShot) zeroShotModels.Add(stages.Scores($"{stages.Patterns[p].Name}-zero-shot", zeroShot.Directory!, p, weight));
        }

        var rng = new Random(spec.Seed);
        // Zero-shot iPET: the untrained patterns are generation 0's teachers.
        List<ModelScores> previous = zeroShotModels;
        for (int g = 0; g < options.Generations; g++)
        {
            var generation = new List<ModelScores>();
            var metrics = new List<IReadOnlyDictionary<string, double>>();
            int perPattern = options.ModelsPerPattern;
            for (int i = 0; i < stages.Patterns.Count * perPattern; i++)
            {
                int pattern = i / perPattern, model = i % perPattern;
                var train = g == 0 && !options.ZeroShot ? data.Train
                    : [.. data.Train, .. NewExamples(previous, g == 0 ? pattern : i, g, options, data, rng)];
                var (scores, scored) = await stages.TrainAsync(pattern, model, weights[pattern], train, $"g{g}-");
                generation.Add(scores);
                metrics.Add(scored);
            }
            report.Add(RecipeStages.Mean($"g{g} models", metrics));
            previous = generation;
        }
        var (ensemble, softLabelled) = stages.EnsembleStage($"g{options.Generations - 1} ensemble", previous);
        report.Add(ensemble);
        if (options.Distill) report.Add(await stages.DistillAsync(softLabelled));
        return runner.Report(spec.Output!, spec, report, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Generations allowed: the PET paper uses 3; each adds a full set of trained models.</summary>
    public const int MaxGenerations = 10;
    /// <summary>How many times the last generation may repeat the pool on average (PET upsamples a short pool, not endlessly).</summary>
    public const int MaxPoolRepeats = 10;

    /// <summary>Refuses a growth the pool cannot feed (see <see cref="MaxPoolRepeats"/>).</summary>
    public static void CheckGrowth(Options options, TaskData data)
    {
        double last = NewCount(options, data.Train.Count, options.Generations - 1);
        int pool = data.Unlabelled!.Count;
        if (last > (double)MaxPoolRepeats * pool)
            throw new OptionsException($"{RecipeOptions.Section}.growth: the last generation would add " +
                "|T|·growth^(generations−1) − |T| = " +
                $"{last:G4} examples drawn from a pool of {pool}, more than {MaxPoolRepeats} times each; lower growth or generations, " +
                "or give a larger pool (task.max_unlabelled)");
    }

    /// <summary>New examples generation <paramref name="generation"/> adds: |T|·d^g − |T|, or for zero-shot iPET
    /// <c>zero_shot_examples</c>·d^g (PET's <c>10 / d · d^(g+1)</c>).</summary>
    static int NewCount(Options options, int trainCount, int generation) => options.ZeroShot
        ? (int)(options.ZeroShotExamples * Math.Pow(options.Growth, generation))
        : IpetDraw.NewExamples(trainCount, options.Growth, generation);

    /// <summary>Model <paramref name="self"/>'s new examples for generation <paramref name="generation"/>: the pool labelled by
    /// a random share of the previous generation's other models (zero-shot iPET's first generation: the other patterns'
    /// zero-shot models, each label drawn among the pool's <c>n_most_likely</c> for it).</summary>
    static List<Example> NewExamples(List<ModelScores> previous, int self, int generation, Options options, TaskData data, Random rng)
    {
        var others = previous.Where((_, i) => i != self).ToList();
        if (others.Count == 0) others = previous;   // a single model labels for itself
        int count = Math.Max(1, (int)Math.Round(others.Count * options.EnsembleShare));
        var chosen = others.OrderBy(_ => rng.Next()).Take(count).ToList();
        var merged = Ensemble.Merge(chosen.Select(m => m.Unlabelled).ToList(), chosen.Select(m => m.Weight).ToList());
        var probabilities = merged.Select(row => Ensemble.Softmax(row, 1)).ToArray();
        // A multiple-choice task names no labels: its classes are the options.
        int classes = data.Labels.Count > 0 ? data.Labels.Count : data.Dev[0].Options!.Count;
        var perLabel = IpetDraw.PerLabel(data.Train, classes, NewCount(options, data.Train.Count, generation));
        int? mostLikely = options.ZeroShot && generation == 0 ? options.NMostLikely : null;
        return IpetDraw.Draw(data.Unlabelled!, probabilities, perLabel, rng, mostLikely);
    }
}
