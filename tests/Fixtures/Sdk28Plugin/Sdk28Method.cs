using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Compat.Sdk28;

/// <summary>
/// A method built against SDK 2.8.0 (the last SDK before sub-layer replacement) and shipped here as that build
/// (<c>prebuilt/</c>): it uses what SDK 2.9 marks obsolete — <c>IDecoder.GetLinear</c>, <c>LinearWrapper</c> and its
/// <c>WrapAll</c>/<c>UnwrapAll</c> (which reach <c>ReplaceLinear</c>), and the block-output hook — so that loading and verifying
/// it with today's host proves the SDK still binary compatible. A zero-initialised per-output scale on the first Linear and a
/// zero-initialised shift after every MLP: the base model at init.
/// </summary>
public sealed class Sdk28Method : IAdaptationMethod
{
    const string ModuleName = "sdk28_shift";

    public PluginManifest Manifest { get; } = new("sdk28-compat", PluginKind.Method, "1.0.0",
        "built against SDK 2.8: a scaled Linear and a block-output hook (binary compatibility check)");

    public HookPoints? Uses(JsonElement options) => HookPoints.Linears | HookPoints.BlockOutputs;

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var path = model.LinearPaths()[0];
        if (model.GetLinear(path) is not Linear) throw new InvalidOperationException($"{path} is held by another method");
        var layers = LinearWrapper.WrapAll(model, [path], (_, inner) => new ScaledLinear(inner, model.Device));
        var shift = new MlpShift(model.Config.ModelDim, model.Device);
        model.AttachModule(ModuleName, shift);
        model.BlockOutputHook = shift;
        return new Attached(model, layers, shift);
    }

    sealed class ScaledLinear : LinearWrapper
    {
        public readonly Parameter scale;

        public ScaledLinear(nn.Module<Tensor, Tensor> inner, Device device) : base(nameof(ScaledLinear), inner)
        {
            scale = new Parameter(torch.zeros(Base.weight!.shape[0], device: device));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var y = BaseForward(x);
            return y * (1 + scale).to(y.dtype);   // in y's dtype: bf16 stays bf16, as without the method
        }
    }

    sealed class MlpShift : nn.Module, IBlockOutputHook
    {
        public readonly Parameter shift;

        public MlpShift(long dim, Device device) : base(nameof(MlpShift))
        {
            shift = new Parameter(torch.zeros(dim, device: device));
            RegisterComponents();
        }

        public Tensor AfterAttention(int layer, Tensor output) => output;
        public Tensor AfterMlp(int layer, Tensor output) => output + shift.to(output.dtype);
    }

    sealed class Attached(IDecoder model, IReadOnlyList<(string Path, ScaledLinear Wrapper)> layers, MlpShift shift)
        : WrappedLinears<ScaledLinear>(model, layers)
    {
        public override IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
            [.. layers.Select(l => (l.Path + ".scale", l.Wrapper.scale)), ("shift", shift.shift)];

        public override bool IsIdentityAtInit => true;

        protected override JsonObject AdapterConfig() => new() { ["peft_type"] = "SDK28_COMPAT" };

        public override void Dispose()
        {
            base.Dispose();
            if (ReferenceEquals(Model.BlockOutputHook, shift)) Model.BlockOutputHook = null;
            Model.DetachModule(ModuleName).Dispose();
        }
    }
}
