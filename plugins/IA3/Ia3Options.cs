using System.Text.Json;

namespace PluginGpt.Plugins.IA3;

/// <summary>(IA)³'s options, named as PEFT's <c>IA3Config</c> (snake_case in JSON); the defaults are PEFT's for GPT-2.</summary>
public sealed record Ia3Options
{
    /// <summary>Linear layers that get a learned vector: a list of names matched as path suffixes, or a regex over whole paths.</summary>
    public JsonElement? TargetModules { get; init; }
    /// <summary>Of those, the ones whose <i>input</i> is rescaled (PEFT: list entries match as plain suffixes, a string is a regex);
    /// the others rescale their output. Must be a subset of the targets.</summary>
    public JsonElement? FeedforwardModules { get; init; }
    /// <summary>Start every vector at 1 (the base model exactly); false draws N(0, 1) as PEFT does.</summary>
    public bool InitIa3Weights { get; init; } = true;

    public static readonly string[] DefaultTargets = ["c_attn", "mlp.c_proj"];
    public static readonly string[] DefaultFeedforward = ["mlp.c_proj"];
}
