using System.Text.Json.Serialization;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.LoRA;

/// <summary>LoRA's options, named as PEFT's <c>LoraConfig</c> (snake_case in JSON).</summary>
public sealed record LoraOptions
{
    /// <summary>Rank of the update ΔW = B·A.</summary>
    public int R { get; init; } = 8;
    /// <summary>Scale numerator: ΔW is multiplied by α/r (α/√r with rsLoRA).</summary>
    public double LoraAlpha { get; init; } = 16;
    public double LoraDropout { get; init; }
    /// <summary>Module names matched as path suffixes (GPT-2: <c>attn.c_attn</c>, <c>c_proj</c>, <c>mlp.c_fc</c>; Llama: <c>q_proj</c>,
    /// <c>down_proj</c>); a string is a regex over full paths. Absent: PEFT's default for the model's family.</summary>
    public System.Text.Json.JsonElement? TargetModules { get; init; }
    /// <summary>Rank-stabilised scaling α/√r (Kalajdzievski 2023).</summary>
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }
    /// <summary>DoRA (Liu et al. 2024): a trainable magnitude per output feature over the normalised W + s·B·A (PEFT's flag).</summary>
    public bool UseDora { get; init; }

    /// <summary>PEFT's defaults are the query and value projections: <c>c_attn</c> on GPT-2 (q, k and v fused), <c>q_proj</c> and
    /// <c>v_proj</c> on Llama and Qwen2 (peft/utils/constants.py, TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).</summary>
    public static readonly LinearRole[] DefaultRoles = [LinearRole.Query, LinearRole.Value];

    public double Scaling => UseRsLora ? LoraAlpha / Math.Sqrt(R) : LoraAlpha / R;
}
