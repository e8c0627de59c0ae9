using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using PluginGpt.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Adapters;

/// <summary>
/// <c>adapters</c>: bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020, AdapterFusion) on the block-output hook.
/// The body is frozen; each adapter sees a sub-layer's output before the residual add.
/// </summary>
public sealed class AdapterMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("adapters", PluginKind.Method, "1.0.0", "Bottleneck adapters: Pfeiffer (after the MLP) or Houlsby (after attention and MLP).");

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<AdapterOptions>(options, "method.options");
        PluginOptions.Require(o.Config is "pfeiffer" or "houlsby", "method.options", "config", $"must be 'pfeiffer' or 'houlsby', got '{o.Config}'");
        PluginOptions.Require(o.ReductionFactor >= 1 && model.Config.ModelDim % o.ReductionFactor == 0, "method.options", "reduction_factor",
            $"must divide n_embd ({model.Config.ModelDim}), got {o.ReductionFactor}");
        PluginOptions.Require(o.Activation is "relu" or "swish" or "gelu", "method.options", "non_linearity", $"must be relu, swish or gelu, got '{o.NonLinearity}'");
        if (model.BlockOutputHook is not null)
            throw new ArgumentException("method: the model's block-output hook is taken by another method; adapters cannot share it");

        foreach (var p in model.Module.parameters()) p.requires_grad = false;
        var hook = new AdapterHook(model.Config.Layers, model.Config.ModelDim, model.Config.ModelDim / o.ReductionFactor, o, model.Device);
        model.BlockOutputHook = hook;
        return new Attached(model, hook, o);
    }

    /// <summary>Hook point 4: adapters applied to the sub-layer outputs of every block.</summary>
    sealed class AdapterHook(int layers, long dim, long bottleneck, AdapterOptions o, Device device) : IBlockOutputHook
    {
        public readonly BottleneckAdapter?[] AfterAttentionAdapters = Enumerable.Range(0, layers)
            .Select(_ => o.Config == "houlsby" ? new BottleneckAdapter(dim, bottleneck, o.Activation, device) : null).ToArray();
        public readonly BottleneckAdapter[] AfterMlpAdapters = Enumerable.Range(0, layers)
            .Select(_ => new BottleneckAdapter(dim, bottleneck, o.Activation, device)).ToArray();

        public Tensor AfterAttention(int layer, Tensor output) => AfterAttentionAdapters[layer] is { } a ? a.forward(output) : output;
        public Tensor AfterMlp(int layer, Tensor output) => AfterMlpAdapters[layer].forward(output);

        public IEnumerable<(string Name, Parameter Parameter)> Parameters()
        {
            for (int i = 0; i < AfterMlpAdapters.Length; i++)
            {
                if (AfterAttentionAdapters[i] is { } a)
                    foreach (var (n, p) in a.named_parameters()) yield return ($"h.{i}.attention_adapter.{n}", p);
                foreach (var (n, p) in AfterMlpAdapters[i].named_parameters()) yield return ($"h.{i}.output_adapter.{n}", p);
            }
        }
    }

    sealed class Attached(IDecoder model, AdapterHook hook, AdapterOptions options) : IAttachedMethod
    {
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => hook.Parameters().ToList();

        public void Save(string directory)
        {
            var config = new JsonObject
            {
                ["architecture"] = "bottleneck", ["config"] = options.Config, ["reduction_factor"] = options.ReductionFactor,
                ["non_linearity"] = options.Activation, ["mh_adapter"] = options.Config == "houlsby", ["output_adapter"] = true,
            };
            AdapterFiles.Save(directory, config, Trainable);
        }

        public void Load(string directory) => AdapterFiles.Load(directory, Trainable);

        /// <summary>Adapters are non-linear: nothing to fold into the base weights.</summary>
        public bool CanMerge => false;
        public void Merge() => throw new NotSupportedException("bottleneck adapters cannot be merged into the base weights (they are non-linear)");
        public void Unmerge() { }
        public void Dispose() { if (ReferenceEquals(model.BlockOutputHook, hook)) model.BlockOutputHook = null; }
    }
}
