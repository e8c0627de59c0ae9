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
            "LoRA / rsLoRA: low-rank updates of chosen Linear layers, mergeable, PEFT-format adapters.");

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<LoraOptions>(options, "method.options");
        PluginOptions.Require(o.R >= 1, "method.options", "r", $"must be ≥ 1, got {o.R}");
        PluginOptions.Require(o.LoraAlpha > 0, "method.options", "lora_alpha", $"must be > 0, got {o.LoraAlpha}");
        PluginOptions.Require(o.LoraDropout is >= 0 and < 1, "method.options", "lora_dropout", $"must be in [0, 1), got {o.LoraDropout}");
        var targets = TargetModules.Resolve(model.LinearPaths(), o.TargetModules, model.LinearNames(LoraOptions.DefaultRoles));
        return new Attached(model,
            LinearWrapper.WrapAll(model, targets, (_, inner) => new LoraLinear(inner, o.R, o.Scaling, o.LoraDropout)), o);
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, LoraLinear Wrapper)> layers, LoraOptions options)
        : WrappedLinears<LoraLinear>(model, layers)
    {
        /// <summary>By PEFT's keys (<c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>).</summary>
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            layers.SelectMany(l => new[]
            {
                (PeftKeys.Key(model, l.Path, "lora_A.weight"), l.Wrapper.A), (PeftKeys.Key(model, l.Path, "lora_B.weight"), l.Wrapper.B),
            }).ToList();

        /// <summary>B starts at zero: the base output is unchanged.</summary>
        public override bool IsIdentityAtInit => true;

        protected override JsonObject AdapterConfig() => new()
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "FEATURE_EXTRACTION",
            ["r"] = options.R,
            ["lora_alpha"] = options.LoraAlpha,
            ["lora_dropout"] = options.LoraDropout,
            ["use_rslora"] = options.UseRsLora,
            ["bias"] = "none",
            // HF's GPT-2 stores these layers as Conv1D ([in, out]), Llama as Linear; A and B keep PEFT's shapes either way.
            ["fan_in_fan_out"] = Model.StoresConv1D,
            // Full module names: PEFT resolves exactly these (a leaf name such as c_proj would match attention and MLP alike).
            ["target_modules"] =
                new JsonArray(TargetModules.PeftNames(Model, Layers.Select(l => l.Path)).Select(n => (JsonNode)n).ToArray()),
            ["inference_mode"] = true,
            ["plugingpt_target_paths"] = new JsonArray(Layers.Select(l => (JsonNode)l.Path).ToArray()),
        };

        protected override void CheckConfig(string directory, JsonObject config)
        {
            var r = config["r"] is JsonValue v && v.TryGetValue<int>(out var rank) ? rank : (int?)null;
            if (r != options.R)
                throw new CheckpointException(
                    $"{Path.Combine(directory, AdapterFiles.ConfigFile)}: adapter has r = {r}, this experiment r = {options.R}");
        }
    }
}
