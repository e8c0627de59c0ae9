using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.VeRA;

/// <summary>
/// <c>vera</c> (Kopiczko et al. 2024, VeRA: Vector-based Random Matrix Adaptation): one pair of frozen random projections shared
/// by every target layer, and per layer two trained scaling vectors — about a tenth of LoRA's trainable count at PEFT's
/// defaults. Saves in PEFT's layout (the projections as <c>base_model.vera_A</c> / <c>vera_B</c> unless
/// <c>save_projection</c> is off); mergeable. Written only against the plugin SDK.
/// </summary>
public sealed class VeraMethod : IAdaptationMethod
{
    /// <summary>Where the shared projections sit in the model's module tree.</summary>
    const string ModuleName = "vera_projections";

    public PluginManifest Manifest { get; } = new("vera", PluginKind.Method, "1.0.0",
        "VeRA: shared frozen random projections with trained scaling vectors per layer; mergeable, PEFT-format.");

    /// <summary>Hook point: Linears.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<VeraOptions>(options, "method.options");
        PluginOptions.Require(o.R >= 1, "method.options", "r", $"must be ≥ 1, got {o.R}");
        PluginOptions.Require(o.VeraDropout is >= 0 and < 1, "method.options", "vera_dropout", $"must be in [0, 1), got {o.VeraDropout}");
        PluginOptions.Require(o.ProjectionPrngKey >= 0, "method.options", "projection_prng_key",
            $"must be ≥ 0, got {o.ProjectionPrngKey}");
        var targets = TargetModules.Resolve(model.LinearPaths(), o.TargetModules, model.LinearNames(VeraOptions.DefaultRoles));
        // PEFT sizes the shared matrices by the largest input and output over the targets.
        var shapes = targets.Select(t => ((Linear)model.GetModule(t)).weight!.shape).ToList();
        var projections = new VeraProjections(o.R, shapes.Max(s => s[1]), shapes.Max(s => s[0]), o.ProjectionPrngKey, model.Device);
        var owned = OwnedModule.Attach(model, ModuleName, projections);
        try
        {
            var layers = LinearWrapper.WrapAll(model, targets,
                (_, inner) => new VeraLinear(inner, projections, o.R, o.VeraDropout, o.DInitial, o.InitWeights));
            return new Attached(model, layers, owned, o);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, VeraLinear Wrapper)> layers, OwnedModule<VeraProjections> owned,
        VeraOptions options) : WrappedLinears<VeraLinear>(model, layers)
    {

        /// <summary>PEFT's keys: <c>base_model.model.transformer.h.0.attn.c_attn.vera_lambda_b</c> and <c>…vera_lambda_d</c>.</summary>
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            layers.SelectMany(l => new[]
            {
                (PeftKeys.Key(model, l.Path, "vera_lambda_b"), l.Wrapper.LambdaB),
                (PeftKeys.Key(model, l.Path, "vera_lambda_d"), l.Wrapper.LambdaD),
            }).ToList();

        /// <summary>The shared projections under PEFT's keys; frozen, saved beside the vectors when <c>save_projection</c> is on.</summary>
        IReadOnlyList<(string Name, Parameter Parameter)> Projections { get; } =
            [("base_model.vera_A", owned.Module.A), ("base_model.vera_B", owned.Module.B)];

        public override bool IsIdentityAtInit => options.InitWeights;

        public override void Save(string directory) =>
            AdapterFiles.Save(directory, AdapterConfig(), options.SaveProjection ? Trainable.Concat(Projections) : Trainable);

        public override void Load(string directory)
        {
            var config = AdapterFiles.ReadConfig(directory);
            CheckConfig(directory, config);
            bool wasMerged = Layers.Any(l => l.Wrapper.Merged);
            Unmerge();
            // Without saved projections the same key draws the same matrices (checked in CheckConfig).
            bool saved = config["save_projection"] is JsonValue v && v.TryGetValue<bool>(out var flag) && flag;
            AdapterFiles.Load(directory, saved ? Trainable.Concat(Projections) : Trainable);
            if (wasMerged) Merge();
        }

        protected override void CheckConfig(string directory, JsonObject config)
        {
            RequireSaved(directory, config, "r", options.R);
            RequireSaved(directory, config, "projection_prng_key", options.ProjectionPrngKey);
        }

        protected override JsonObject AdapterConfig() => WithTargets(new()
        {
            ["peft_type"] = "VERA",
            ["task_type"] = "FEATURE_EXTRACTION",
            ["r"] = options.R,
            ["projection_prng_key"] = options.ProjectionPrngKey,
            ["save_projection"] = options.SaveProjection,
            ["vera_dropout"] = options.VeraDropout,
            ["d_initial"] = options.DInitial,
            ["init_weights"] = options.InitWeights,
            ["bias"] = "none",
        });

        /// <summary>Unwraps the layers, then frees the shared projections.</summary>
        public override void Dispose()
        {
            base.Dispose();
            owned.Dispose();
        }
    }
}
