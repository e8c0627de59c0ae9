namespace PluginGpt.Abstractions;

/// <summary>
/// The tensor names of PEFT's <c>adapter_model.safetensors</c>, as <c>get_peft_model_state_dict</c> writes them: the
/// <c>PeftModel</c> wraps the tuner, which wraps the Hugging Face model, so every key starts with <c>base_model.model.</c>, then
/// the Hugging Face module name (<see cref="IDecoder.HuggingFaceName"/>), then the tensor's name inside the adapted module with
/// the adapter name (<c>default</c>) left out: <c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>. PEFT loads an
/// adapter only when its keys are exactly these. Tensor names PEFT's tuners use: LoRA <c>lora_A.weight</c>,
/// <c>lora_B.weight</c>; DoRA adds <c>lora_magnitude_vector</c> (no <c>.weight</c>); (IA)³ <c>ia3_l</c>. Since SDK 2.3.
/// </summary>
public static class PeftKeys
{
    /// <summary>What every key of a PEFT tuner's adapter file starts with (<c>PeftModel.base_model.model</c>).</summary>
    public const string Prefix = "base_model.model.";

    /// <summary>The key of tensor <paramref name="tensorName"/> (<c>lora_A.weight</c>) of the module Hugging Face calls
    /// <paramref name="moduleName"/> (<c>model.layers.0.self_attn.q_proj</c>).</summary>
    public static string Key(string moduleName, string tensorName)
    {
        ArgumentException.ThrowIfNullOrEmpty(moduleName);
        ArgumentException.ThrowIfNullOrEmpty(tensorName);
        return $"{Prefix}{moduleName}.{tensorName}";
    }

    /// <summary>The key of tensor <paramref name="tensorName"/> of the Linear at hook point 1 path <paramref name="path"/>
    /// (<c>h.0.attn.c_attn</c> → <c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>), in the decoder's family's
    /// names.</summary>
    public static string Key(IDecoder model, string path, string tensorName) => Key(model.HuggingFaceName(path), tensorName);

    /// <summary>The Hugging Face module name a key of tensor <paramref name="tensorName"/> belongs to, or null when
    /// <paramref name="key"/> is not such a key (another prefix, another tensor name).</summary>
    public static string? ModuleName(string key, string tensorName)
    {
        var suffix = "." + tensorName;
        return key.StartsWith(Prefix, StringComparison.Ordinal) && key.EndsWith(suffix, StringComparison.Ordinal)
            && key.Length > Prefix.Length + suffix.Length
            ? key[Prefix.Length..^suffix.Length]
            : null;
    }

    /// <summary>The hook point 1 path (<see cref="IDecoder.LinearPaths"/>) a key of tensor <paramref name="tensorName"/> belongs to:
    /// how an adapter file written by PEFT maps back onto the decoder; null when the key names no Linear of this model.</summary>
    public static string? LinearPath(IDecoder model, string key, string tensorName) =>
        ModuleName(key, tensorName) is { } module ? model.LinearPaths().FirstOrDefault(p => model.HuggingFaceName(p) == module) : null;
}
