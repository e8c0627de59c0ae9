using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.VeRA;

/// <summary>VeRA's options, named and defaulted as PEFT's <c>VeraConfig</c> (snake_case in JSON).</summary>
public sealed record VeraOptions
{
    /// <summary>Rank of the shared random projections (PEFT's default is large: the projections are frozen and shared).</summary>
    public int R { get; init; } = 256;
    /// <summary>Seed of the generator that draws the shared A and B (A first, then B).</summary>
    public long ProjectionPrngKey { get; init; }
    /// <summary>Write A and B into the adapter file (PEFT's default): a reload then needs no generator to match.</summary>
    public bool SaveProjection { get; init; } = true;
    public double VeraDropout { get; init; }
    /// <summary>Initial value of every λ_d.</summary>
    public double DInitial { get; init; } = 0.1;
    /// <summary>λ_b at zero and λ_d at <see cref="DInitial"/> (the model starts as the base); false: ones and N(0, 1).</summary>
    public bool InitWeights { get; init; } = true;
    /// <summary>As LoRA's (PEFT's VeRA defaults equal LoRA's: <c>c_attn</c> on GPT-2, <c>q_proj</c> and <c>v_proj</c> on Llama).</summary>
    public System.Text.Json.JsonElement? TargetModules { get; init; }

    public static readonly LinearRole[] DefaultRoles = [LinearRole.Query, LinearRole.Value];
}
