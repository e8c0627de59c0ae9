using System.Text.Json.Serialization;

namespace PluginGpt.Plugins.LoRA;

/// <summary>LoRA's options, named as PEFT's <c>LoraConfig</c> (snake_case in JSON).</summary>
public sealed record LoraOptions
{
    /// <summary>Rank of the update ΔW = B·A.</summary>
    public int R { get; init; } = 8;
    /// <summary>Scale numerator: ΔW is multiplied by α/r (α/√r with rsLoRA).</summary>
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; }
    /// <summary>Module names matched as suffixes of GPT-2 paths (<c>attn.c_attn</c>, <c>c_proj</c>, <c>mlp.c_fc</c>); a string is a regex
    /// over full paths.</summary>
    public System.Text.Json.JsonElement? TargetModules { get; init; }
    /// <summary>Rank-stabilised scaling α/√r (Kalajdzievski 2023).</summary>
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }

    /// <summary>PEFT's GPT-2 default: the fused query/key/value projection.</summary>
    public static readonly string[] DefaultTargets = ["attn.c_attn"];

    public double Scaling => UseRsLora ? LoraAlpha / Math.Sqrt(R) : LoraAlpha / R;
}
