using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.LoRA;

/// <summary>
/// <c>lora</c> (Hu et al. 2021): wraps the target Linears of the frozen body with a trainable low-rank update.
/// Saves in PEFT's layout (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>); merges into the base weights.
/// </summary>
public sealed class LoraMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } =
        new("lora", PluginKind.Method, "1.0.0",
            "LoRA / rsLoRA / DoRA (use_dora): low-rank updates of chosen Linear layers, mergeable, PEFT-format adapters.");

    /// <summary>Hook point: Linears.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options) =>
        AttachWith(model, PluginOptions.Bind<LoraOptions>(options, "method.options"));

    /// <summary>Attaches LoRA (or DoRA, with <see cref="LoraOptions.UseDora"/>) with options already bound.</summary>
    internal static IAttachedMethod AttachWith(IDecoder model, LoraOptions o)
    {
        PluginOptions.Require(o.R >= 1, "method.options", "r", $"must be ≥ 1, got {o.R}");
        PluginOptions.Require(o.LoraAlpha > 0, "method.options", "lora_alpha", $"must be > 0, got {o.LoraAlpha}");
        PluginOptions.Require(o.LoraDropout is >= 0 and < 1, "method.options", "lora_dropout", $"must be in [0, 1), got {o.LoraDropout}");
        var targets = TargetModules.Resolve(model.LinearPaths(), o.TargetModules, model.LinearNames(LoraOptions.DefaultRoles));
        return new Attached(model, LinearWrapper.WrapAll(model, targets, (_, inner) => o.UseDora
            ? new DoraLinear(inner, o.R, o.Scaling, o.LoraDropout)
            : new LoraLinear(inner, o.R, o.Scaling, o.LoraDropout)), o);
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, LoraLinear Wrapper)> layers, LoraOptions options)
        : WrappedLinears<LoraLinear>(model, layers)
    {
        /// <summary>By PEFT's keys (<c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>).</summary>
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            layers.SelectMany(l => Tensors(model, l.Path, l.Wrapper)).ToList();

        static IEnumerable<(string, Parameter)> Tensors(IDecoder model, string path, LoraLinear layer)
        {
            yield return (PeftKeys.Key(model, path, "lora_A.weight"), layer.A);
            yield return (PeftKeys.Key(model, path, "lora_B.weight"), layer.B);
            if (layer is DoraLinear dora) yield return (PeftKeys.Key(model, path, "lora_magnitude_vector"), dora.Magnitude);
        }

        /// <summary>B starts at zero: the base output is unchanged.</summary>
        public override bool IsIdentityAtInit => true;

        protected override JsonObject AdapterConfig() => WithTargets(new()
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "FEATURE_EXTRACTION",
            ["r"] = options.R,
            ["lora_alpha"] = options.LoraAlpha,
            ["lora_dropout"] = options.LoraDropout,
            ["use_rslora"] = options.UseRsLora,
            ["use_dora"] = options.UseDora,
            ["bias"] = "none",
        });

        protected override void CheckConfig(string directory, JsonObject config)
        {
            RequireSaved(directory, config, "r", options.R);
            // The scale s = α/r (α/√r) multiplies the saved B·A: an adapter trained with another one would load silently wrong.
            RequireSaved(directory, config, "lora_alpha", options.LoraAlpha);
            RequireSaved(directory, config, "use_rslora", options.UseRsLora, whenAbsent: false);
            RequireSaved(directory, config, "use_dora", options.UseDora, whenAbsent: false);
        }
    }
}
