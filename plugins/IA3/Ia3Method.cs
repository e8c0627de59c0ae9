using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.IA3;

/// <summary>
/// <c>ia3</c> (Liu et al. 2022, Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning):
/// learned vectors that rescale activations of the frozen body, as Hugging Face PEFT implements it for GPT-2 — the output of
/// <c>attn.c_attn</c> (keys, values and queries) and the input of the feed-forward <c>mlp.c_proj</c>. Vectors start at one,
/// merge into the weights, and save in PEFT's layout. Written only against the plugin SDK.
/// </summary>
public sealed class Ia3Method : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("ia3", PluginKind.Method, "1.0.0",
        "(IA)³: learned vectors rescaling attention outputs and feed-forward inputs; mergeable, PEFT-format.");

    /// <summary>Hook point: Linears.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.Linears;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<Ia3Options>(options, "method.options");
        var targets = TargetModules.Resolve(model.LinearPaths(), o.TargetModules, model.LinearNames(Ia3Options.DefaultRoles));
        var feedforward = Feedforward(targets, o.FeedforwardModules, model.LinearNames(Ia3Options.DefaultFeedforwardRoles));
        var wrapped = LinearWrapper.WrapAll(model, targets,
            (path, inner) => new Ia3Linear(inner, feedforward.Contains(path), o.InitIa3Weights));
        return new Attached(model, wrapped, o);
    }

    /// <summary>PEFT's rule for <c>feedforward_modules</c>: list entries match as plain suffixes (<c>c_proj</c> matches
    /// <c>attn.c_proj</c> and <c>mlp.c_proj</c>), a string as a full regex; they must be a subset of the targets.</summary>
    static HashSet<string> Feedforward(IReadOnlyList<string> targets, JsonElement? spec, IReadOnlyList<string> defaults)
    {
        const string field = "method.options.feedforward_modules";
        if (spec is { ValueKind: JsonValueKind.String } s)
        {
            var regex = TargetModules.Pattern(s.GetString()!, field);
            return targets.Where(t => regex.IsMatch(t)).ToHashSet();
        }
        var suffixes = spec is null || spec.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
            ? defaults : TargetModules.Names(spec.Value, field);
        foreach (var suffix in suffixes)
            PluginOptions.Require(targets.Any(t => t.EndsWith(suffix, StringComparison.Ordinal)), "method.options", "feedforward_modules",
                $"'{suffix}' is not among the target modules (feedforward modules must be a subset of target_modules)");
        return targets.Where(t => suffixes.Any(suffix => t.EndsWith(suffix, StringComparison.Ordinal))).ToHashSet();
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, Ia3Linear Wrapper)> layers, Ia3Options options)
        : WrappedLinears<Ia3Linear>(model, layers)
    {
        /// <summary>PEFT's key: <c>base_model.model.transformer.h.0.attn.c_attn.ia3_l</c>.</summary>
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            layers.Select(l => (PeftKeys.Key(model, l.Path, "ia3_l"), l.Wrapper.Vector)).ToList();

        /// <summary>The vectors are [out, 1] or [1, in]: two-dimensional, but weight decay would pull them to zero, not to one.</summary>
        public override ParameterSettings SettingsFor(string name, Parameter parameter) => ParameterSettings.NoDecay;

        public override bool IsIdentityAtInit => options.InitIa3Weights;

        protected override JsonObject AdapterConfig() => WithTargets(new()
        {
            ["peft_type"] = "IA3",
            ["task_type"] = "FEATURE_EXTRACTION",
            ["init_ia3_weights"] = options.InitIa3Weights,
            ["feedforward_modules"] = Names(Layers.Where(l => l.Wrapper.IsFeedforward).Select(l => l.Path)),
        });

        JsonArray Names(IEnumerable<string> paths) => new(TargetModules.PeftNames(Model, paths).Select(n => (JsonNode)n).ToArray());
    }
}
