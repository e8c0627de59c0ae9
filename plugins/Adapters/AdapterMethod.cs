using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Adapters;

/// <summary>
/// <c>adapters</c>: bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020, AdapterFusion) on the block-output hook.
/// The body is frozen; each adapter sees a sub-layer's output before the residual add.
/// </summary>
public sealed class AdapterMethod : IAdaptationMethod
{
    /// <summary>Where the adapters sit in the decoder's module tree.</summary>
    const string ModuleName = "adapters";

    public PluginManifest Manifest { get; } = new("adapters", PluginKind.Method, "1.0.0",
        "Bottleneck adapters: Pfeiffer (after the MLP) or Houlsby (after attention and MLP).");

    /// <summary>Hook point: BlockOutputs.</summary>
    public HookPoints? Uses(JsonElement options) => HookPoints.BlockOutputs;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<AdapterOptions>(options, "method.options");
        PluginOptions.Require(o.Config is "pfeiffer" or "houlsby", "method.options", "config",
            $"must be 'pfeiffer' or 'houlsby', got '{o.Config}'");
        PluginOptions.Require(o.ReductionFactor >= 1 && model.Config.ModelDim % o.ReductionFactor == 0, "method.options",
            "reduction_factor", $"must divide n_embd ({model.Config.ModelDim}), got {o.ReductionFactor}");
        PluginOptions.Require(o.Activation is "relu" or "swish" or "gelu", "method.options", "non_linearity",
            $"must be relu, swish or gelu, got '{o.NonLinearity}'");
        if (model.BlockOutputHook is not null)
            throw new InvalidOperationException("the model's block-output hook is taken by another method");

        var hook = new AdapterHook(model.Config.Layers, model.Config.ModelDim, model.Config.ModelDim / o.ReductionFactor, o, model.Device);
        var owned = OwnedModule.Attach(model, ModuleName, hook);
        model.BlockOutputHook = hook;
        return new Attached(model, owned, o);
    }

    /// <summary>Hook point 4: adapters applied to the sub-layer outputs of every block; a module in the decoder's tree.</summary>
    sealed class AdapterHook : nn.Module, IBlockOutputHook
    {
#pragma warning disable IDE1006 // state-dict names
        readonly ModuleList<BottleneckAdapter> attention_adapters;
        readonly ModuleList<BottleneckAdapter> output_adapters;
#pragma warning restore IDE1006

        public AdapterHook(int layers, long dim, long bottleneck, AdapterOptions o, Device device) : base(nameof(AdapterHook))
        {
            BottleneckAdapter[] Make() =>
                Enumerable.Range(0, layers).Select(_ => new BottleneckAdapter(dim, bottleneck, o.Activation, device)).ToArray();
            attention_adapters = new ModuleList<BottleneckAdapter>(o.Config == "houlsby" ? Make() : []);
            output_adapters = new ModuleList<BottleneckAdapter>(Make());
            RegisterComponents();
        }

        public Tensor AfterAttention(int layer, Tensor output) =>
            attention_adapters.Count > 0 ? attention_adapters[layer].forward(output) : output;
        public Tensor AfterMlp(int layer, Tensor output) => output_adapters[layer].forward(output);

        /// <summary>AdapterHub-like names: <c>h.{i}.attention_adapter.down.weight</c>, <c>h.{i}.output_adapter.up.bias</c>, …</summary>
        public IEnumerable<(string Name, Parameter Parameter)> Named()
        {
            for (int i = 0; i < output_adapters.Count; i++)
            {
                if (attention_adapters.Count > 0)
                    foreach (var (n, p) in attention_adapters[i].named_parameters()) yield return ($"h.{i}.attention_adapter.{n}", p);
                foreach (var (n, p) in output_adapters[i].named_parameters()) yield return ($"h.{i}.output_adapter.{n}", p);
            }
        }
    }

    sealed class Attached(IDecoder model, OwnedModule<AdapterHook> owned, AdapterOptions options) : IAttachedMethod
    {
        readonly AdapterHook hook = owned.Module;
        bool disposed;
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } = owned.Module.Named().ToList();

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

        /// <summary>Unhooks the adapters and frees them.</summary>
        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            if (ReferenceEquals(model.BlockOutputHook, hook)) model.BlockOutputHook = null;
            owned.Dispose();
        }
    }
}
