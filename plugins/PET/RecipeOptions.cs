using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.PET;

/// <summary>The options the <c>pet</c> and <c>ipet</c> recipes share (<c>recipe.options</c>, snake_case).</summary>
public record RecipeOptions
{
    /// <summary>The patterns, each a built-in id (0, 1, …) or a template string; null = every built-in pattern of the data set
    /// (or the objective's own <c>pattern</c>).</summary>
    public List<JsonElement>? Patterns { get; init; }
    /// <summary>Models trained per pattern, each with its own seed (PET: 3).</summary>
    public int ModelsPerPattern { get; init; } = 3;
    /// <summary><c>accuracy</c>: a model's vote weighs its pattern's accuracy on the training set before training (PET's
    /// default); <c>uniform</c>: every model weighs 1.</summary>
    public string Weighting { get; init; } = "accuracy";
    /// <summary>Soft labels are softmax(ensemble scores / T) and the final model distils at T (PET: 2).</summary>
    public double Temperature { get; init; } = 2;
    /// <summary>Train the final classifier on the soft-labelled pool (PET's last step); false stops at the ensemble.</summary>
    public bool Distill { get; init; } = true;
    /// <summary>The final classifier's method, objective and training (fields over the experiment's own training); default:
    /// the experiment's method, <c>classifier-head</c> at the recipe's temperature.</summary>
    public FinalStage? Final { get; init; }

    public sealed record FinalStage
    {
        public PluginChoice? Method { get; init; }
        public PluginChoice? Objective { get; init; }
        public JsonElement? Training { get; init; }
    }

    public const string Section = "recipe.options";
    /// <summary>Models one generation may train (patterns × models per pattern).</summary>
    public const int MaxModels = 64;
    /// <summary>The soft labels' temperature range.</summary>
    public const double MinTemperature = 0.01, MaxTemperature = 100;

    /// <summary>Checks the shared options; the recipe checks its own.</summary>
    public void Validate()
    {
        PluginOptions.Require(ModelsPerPattern >= 1, Section, "models_per_pattern", $"must be ≥ 1, got {ModelsPerPattern}");
        PluginOptions.Require(Weighting is "accuracy" or "uniform", Section, "weighting",
            $"must be \"accuracy\" or \"uniform\", got \"{Weighting}\"");
        PluginOptions.Require(ModelsPerPattern <= MaxModels, Section, "models_per_pattern",
            $"must be ≤ {MaxModels} (each model is trained and kept scored in memory), got {ModelsPerPattern}");
        // Beyond these the soft labels are one-hot or uniform to the last bit and distillation diverges for that reason alone.
        PluginOptions.Require(Temperature is >= MinTemperature and <= MaxTemperature, Section, "temperature",
            $"must be in [{MinTemperature}, {MaxTemperature}], got {Temperature}");
        PluginOptions.Require(Patterns is null || Patterns.Count > 0, Section, "patterns", "must name at least one pattern");
        foreach (var p in Patterns ?? [])
            PluginOptions.Require(
                p.ValueKind == JsonValueKind.String || p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var id) && id >= 0,
                Section, "patterns", $"each is a built-in pattern id (0, 1, …) or a template string, got {p.GetRawText()}");
        PluginOptions.Require((Patterns?.Count ?? 1) * ModelsPerPattern <= MaxModels, Section, "patterns",
            $"{Patterns?.Count} patterns × {ModelsPerPattern} models per pattern is more than {MaxModels} models a generation");
    }
}
