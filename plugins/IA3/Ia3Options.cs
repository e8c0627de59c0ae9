using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.IA3;

/// <summary>(IA)³'s options, named as PEFT's <c>IA3Config</c> (snake_case in JSON); the defaults are PEFT's for the model's
/// family.</summary>
public sealed record Ia3Options
{
    /// <summary>Linear layers that get a learned vector: a list of names matched as path suffixes, or a regex over whole paths.</summary>
    public JsonElement? TargetModules { get; init; }
    /// <summary>Of those, the ones whose <i>input</i> is rescaled (PEFT: list entries match as plain suffixes, a string is a regex);
    /// the others rescale their output. Must be a subset of the targets.</summary>
    public JsonElement? FeedforwardModules { get; init; }
    /// <summary>Start every vector at 1 (the base model exactly); false draws N(0, 1) as PEFT does.</summary>
    public bool InitIa3Weights { get; init; } = true;

    /// <summary>PEFT's defaults: keys, values and the MLP's down projection (GPT-2: <c>c_attn</c>, <c>mlp.c_proj</c>; Llama:
    /// <c>k_proj</c>, <c>v_proj</c>, <c>down_proj</c>), the down projection as feed-forward (peft/utils/constants.py,
    /// TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING and _FEEDFORWARD_MODULES_MAPPING).</summary>
    public static readonly LinearRole[] DefaultRoles = [LinearRole.Key, LinearRole.Value, LinearRole.MlpDown];
    public static readonly LinearRole[] DefaultFeedforwardRoles = [LinearRole.MlpDown];
}
