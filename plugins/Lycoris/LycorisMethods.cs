using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.Lycoris;

/// <summary><c>loha</c>: LoHa (Hadamard product of two low-rank products) on the target Linears, as PEFT's <c>LoHaConfig</c>;
/// mergeable, PEFT-format. Written only against the plugin SDK.</summary>
public sealed class LohaMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("loha", PluginKind.Method, "1.0.0",
        "LoHa: Hadamard product of two low-rank updates (LyCORIS, PEFT's LOHA); mergeable, PEFT-format.");

    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = LycorisAttachment.Bind<LohaOptions>(options);
        return LycorisAttachment.Create(model, o, "LOHA", inner => new LohaLinear(inner, o), new JsonObject());
    }
}

/// <summary><c>lokr</c>: LoKr (Kronecker product of two factors) on the target Linears, as PEFT's <c>LoKrConfig</c>; mergeable,
/// PEFT-format. Written only against the plugin SDK.</summary>
public sealed class LokrMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("lokr", PluginKind.Method, "1.0.0",
        "LoKr: Kronecker product of two factors (LyCORIS, PEFT's LOKR); mergeable, PEFT-format.");

    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = LycorisAttachment.Bind<LokrOptions>(options);
        PluginOptions.Require(o.DecomposeFactor == -1 || o.DecomposeFactor >= 1, "method.options", "decompose_factor",
            $"must be -1 or ≥ 1, got {o.DecomposeFactor}");
        var extra = new JsonObject
        {
            ["decompose_both"] = o.DecomposeBoth,
            ["decompose_factor"] = o.DecomposeFactor,
            ["rank_dropout_scale"] = o.RankDropoutScale,
        };
        return LycorisAttachment.Create(model, o, "LOKR", inner => new LokrLinear(inner, o), extra);
    }
}

/// <summary>What LoHa and LoKr attach alike: options checks, the wrapped targets, PEFT's keys and config.</summary>
static class LycorisAttachment
{
    public static T Bind<T>(JsonElement options) where T : LohaOptions, new()
    {
        var o = PluginOptions.Bind<T>(options, "method.options");
        PluginOptions.Require(o.R >= 1, "method.options", "r", $"must be ≥ 1, got {o.R}");
        PluginOptions.Require(o.Alpha > 0, "method.options", "alpha", $"must be > 0, got {o.Alpha}");
        PluginOptions.Require(o.RankDropout is >= 0 and < 1, "method.options", "rank_dropout", $"must be in [0, 1), got {o.RankDropout}");
        PluginOptions.Require(o.ModuleDropout is >= 0 and < 1, "method.options", "module_dropout",
            $"must be in [0, 1), got {o.ModuleDropout}");
        return o;
    }

    public static IAttachedMethod Create<T>(IDecoder model, LohaOptions o, string peftType,
        Func<TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>, T> wrap, JsonObject extraConfig)
        where T : DeltaWeightLinear
    {
        var targets = TargetModules.Resolve(model.LinearPaths(), o.TargetModules, model.LinearNames(LohaOptions.DefaultRoles));
        return new Attached<T>(model, LinearWrapper.WrapAll(model, targets, (_, inner) => wrap(inner)), o, peftType, extraConfig);
    }

    sealed class Attached<T>(IDecoder model, IReadOnlyList<(string Path, T Wrapper)> layers, LohaOptions options, string peftType,
        JsonObject extraConfig) : WrappedLinears<T>(model, layers) where T : DeltaWeightLinear
    {
        /// <summary>PEFT's keys: <c>base_model.model.transformer.h.0.attn.c_attn.hada_w1_a</c>, <c>….lokr_w2</c>, ….</summary>
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            layers.SelectMany(l => l.Wrapper.Named.Select(f => (PeftKeys.Key(model, l.Path, f.Name), f.Parameter))).ToList();

        public override bool IsIdentityAtInit => options.InitWeights;

        protected override void CheckConfig(string directory, JsonObject config)
        {
            string file = Path.Combine(directory, AdapterFiles.ConfigFile);
            string? type = config["peft_type"]?.GetValue<string>();
            if (type != peftType) throw new CheckpointException($"{file}: adapter is {type ?? "untyped"}, this experiment {peftType}");
            RequireSaved(directory, config, "r", options.R);
            RequireSaved(directory, config, "alpha", options.Alpha);   // the scale α/r multiplies the saved factors' product
        }

        protected override JsonObject AdapterConfig()
        {
            var config = new JsonObject
            {
                ["peft_type"] = peftType,
                ["task_type"] = "FEATURE_EXTRACTION",
                ["r"] = options.R,
                ["alpha"] = options.Alpha,
                ["rank_dropout"] = options.RankDropout,
                ["module_dropout"] = options.ModuleDropout,
                ["init_weights"] = options.InitWeights,
                ["use_effective_conv2d"] = false,
            };
            foreach (var (key, value) in extraConfig) config[key] = value?.DeepClone();
            return WithTargets(config, fanInFanOut: false);   // LoHa's and LoKr's PEFT configs have no fan_in_fan_out
        }
    }
}
