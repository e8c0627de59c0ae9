using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.Lycoris;

/// <summary>LoHa's options, named and defaulted as PEFT's <c>LoHaConfig</c> (snake_case in JSON).</summary>
public record LohaOptions
{
    public int R { get; init; } = 8;
    /// <summary>ΔW is scaled by α/r.</summary>
    public double Alpha { get; init; } = 8;
    /// <summary>In training, each row of ΔW is zeroed with this probability.</summary>
    public double RankDropout { get; init; }
    /// <summary>In training, the whole update is skipped for a step with this probability.</summary>
    public double ModuleDropout { get; init; }
    /// <summary>PEFT's initialisation, under which the update starts at zero; false: every factor Kaiming-uniform.</summary>
    public bool InitWeights { get; init; } = true;
    /// <summary>As LoRA's (PEFT ≥ 0.17 defaults LoHa and LoKr to LoRA's targets: <c>c_attn</c>; Llama <c>q_proj</c>,
    /// <c>v_proj</c>).</summary>
    public System.Text.Json.JsonElement? TargetModules { get; init; }

    public static readonly LinearRole[] DefaultRoles = [LinearRole.Query, LinearRole.Value];
}

/// <summary>LoKr's options, as PEFT's <c>LoKrConfig</c>: LoHa's and how the Kronecker factors are shaped.</summary>
public sealed record LokrOptions : LohaOptions
{
    /// <summary>Also write the first Kronecker factor as a rank-r product when r is below half its larger side.</summary>
    public bool DecomposeBoth { get; init; }
    /// <summary>Split each dimension with this factor where it divides it (−1: as close to the square root as possible).</summary>
    public long DecomposeFactor { get; init; } = -1;
    /// <summary>Rescale the rows rank dropout keeps by their share (LoHa always does).</summary>
    public bool RankDropoutScale { get; init; }
}
