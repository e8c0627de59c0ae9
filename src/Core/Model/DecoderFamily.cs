namespace PluginGpt.Core.Model;

/// <summary>
/// The names a family gives its parts: where blocks and their attention sit in the module tree, the prefix of Hugging Face's
/// module names, and which Linear plays which <see cref="LinearRole"/> — the one table methods consult instead of the family.
/// </summary>
internal sealed record DecoderFamily(string Blocks, string Attention, string ModulePrefix, bool StoresConv1D,
    IReadOnlyList<(LinearRole Role, string Name)> Roles)
{
    static readonly DecoderFamily Gpt2 = new("h", "attn", "transformer.", true,
    [
        (LinearRole.Query, "attn.c_attn"), (LinearRole.Key, "attn.c_attn"), (LinearRole.Value, "attn.c_attn"),
        (LinearRole.AttentionOutput, "attn.c_proj"), (LinearRole.MlpUp, "mlp.c_fc"), (LinearRole.MlpDown, "mlp.c_proj"),
    ]);

    static readonly DecoderFamily Llama = new("layers", "self_attn", "model.", false,
    [
        (LinearRole.Query, "self_attn.q_proj"), (LinearRole.Key, "self_attn.k_proj"), (LinearRole.Value, "self_attn.v_proj"),
        (LinearRole.AttentionOutput, "self_attn.o_proj"), (LinearRole.MlpGate, "mlp.gate_proj"), (LinearRole.MlpUp, "mlp.up_proj"),
        (LinearRole.MlpDown, "mlp.down_proj"),
    ]);

    public static DecoderFamily Of(GptConfig config) => config.IsLlamaFamily ? Llama : Gpt2;
}
