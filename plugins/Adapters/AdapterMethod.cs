using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;

namespace PluginGpt.Plugins.Adapters;

/// <summary>
/// <c>adapters</c>: bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020, AdapterFusion), each wrapping a block's
/// sub-layer as AdapterHub places them: the adapter sees the sub-layer's output before the residual add. The body is frozen.
/// </summary>
public sealed class AdapterMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("adapters", PluginKind.Method, "1.1.0",
        "Bottleneck adapters: Pfeiffer (after the MLP) or Houlsby (after attention and MLP).");

    /// <summary>Wraps whole sub-layers.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.SubLayers;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<AdapterOptions>(options, "method.options");
        PluginOptions.Require(o.Config is "pfeiffer" or "houlsby", "method.options", "config",
            $"must be 'pfeiffer' or 'houlsby', got '{o.Config}'");
        PluginOptions.Require(o.ReductionFactor >= 1 && model.Config.ModelDim % o.ReductionFactor == 0, "method.options",
            "reduction_factor", $"must divide n_embd ({model.Config.ModelDim}), got {o.ReductionFactor}");
        PluginOptions.Require(o.Activation is "relu" or "swish" or "gelu", "method.options", "non_linearity",
            $"must be relu, swish or gelu, got '{o.NonLinearity}'");

        var adapters = Adapters(model, o);
        int handedOver = 0;   // a wrapper owns its adapter from its construction on
        try
        {
            var wrapped = ModuleWrapper.WrapAll(model, adapters.Select(a => a.Path),
                (path, sublayer) => new AdaptedSubLayer(sublayer, adapters[handedOver++].Adapter));
            return new Attached(model, wrapped, adapters.Select(a => a.Name).ToList(), o);
        }
        catch
        {
            foreach (var (_, _, adapter) in adapters.Skip(handedOver)) adapter.Dispose();
            throw;
        }
    }

    /// <summary>The adapters with the sub-layer each wraps and the AdapterHub-like name it is saved under
    /// (<c>h.{i}.attention_adapter</c>, <c>h.{i}.output_adapter</c>), made in the order that fixes their random initialisation:
    /// every attention adapter (Houlsby), then every output adapter.</summary>
    static List<(string Path, string Name, BottleneckAdapter Adapter)> Adapters(IDecoder model, AdapterOptions o)
    {
        long dim = model.Config.ModelDim;
        var layers = Enumerable.Range(0, model.Config.Layers).ToList();
        var attention = o.Config == "houlsby"
            ? layers.Select(i => (model.SubLayerPath(i, SubLayer.Attention), $"h.{i}.attention_adapter")).ToList()
            : [];
        var output = layers.Select(i => (model.SubLayerPath(i, SubLayer.FeedForward), $"h.{i}.output_adapter"));
        return [.. attention.Concat(output)
            .Select(t => (t.Item1, t.Item2, new BottleneckAdapter(dim, dim / o.ReductionFactor, o.Activation, model.Device)))];
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, AdaptedSubLayer Wrapper)> wrapped, IReadOnlyList<string> names,
        AdapterOptions options) : IAttachedMethod
    {
        bool disposed;

        /// <summary>AdapterHub-like names, layer by layer: <c>h.{i}.attention_adapter.down.weight</c>,
        /// <c>h.{i}.output_adapter.up.bias</c>, …</summary>
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } = wrapped
            .Select((w, k) => (Name: names[k], w.Wrapper.Adapter))
            .OrderBy(a => int.Parse(a.Name.Split('.')[1], System.Globalization.CultureInfo.InvariantCulture))
            .ThenBy(a => a.Name.EndsWith("output_adapter", StringComparison.Ordinal))
            .SelectMany(a => a.Adapter.named_parameters().Select(p => ($"{a.Name}.{p.name}", p.parameter)))
            .ToList();

        public void Save(string directory)
        {
            var config = new JsonObject
            {
                ["architecture"] = "bottleneck",
                ["config"] = options.Config,
                ["reduction_factor"] = options.ReductionFactor,
                ["non_linearity"] = options.Activation,
                ["mh_adapter"] = options.Config == "houlsby",
                ["output_adapter"] = true,
            };
            AdapterFiles.Save(directory, config, Trainable);
        }

        /// <summary>Every up-projection starts at zero: the base output is unchanged.</summary>
        public bool IsIdentityAtInit => true;

        // Adapters are non-linear: nothing to fold into the base weights (the default Merge refuses).

        /// <summary>Puts the sub-layers back and frees the adapters.</summary>
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            ModuleWrapper.UnwrapAll(model, wrapped);
        }
    }
}
