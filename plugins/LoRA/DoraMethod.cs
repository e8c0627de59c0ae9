using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Plugins.LoRA;

/// <summary><c>dora</c>: LoRA with <c>use_dora</c> on (PEFT keeps DoRA as a LoRA option; this name lets experiments, sweeps and
/// <c>verify --all</c> pick it like any method). Same options as <c>lora</c>; saves as PEFT's LoRA with <c>use_dora: true</c>.</summary>
public sealed class DoraMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("dora", PluginKind.Method, "1.0.0",
        "DoRA: LoRA with a trainable magnitude per output feature over the normalised weight; mergeable, PEFT-format.");

    /// <summary>Hook point: Linears.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<LoraOptions>(options, "method.options");
        PluginOptions.Require(o.UseDora || !HasField(options, "use_dora"), "method.options", "use_dora",
            "dora always uses DoRA; leave use_dora out or use the lora method");
        return LoraMethod.AttachWith(model, o with { UseDora = true });
    }

    static bool HasField(JsonElement options, string name) =>
        options.ValueKind == JsonValueKind.Object && options.TryGetProperty(name, out _);
}
