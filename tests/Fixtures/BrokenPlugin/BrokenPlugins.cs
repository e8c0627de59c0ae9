using System.Text.Json;
using PluginGpt.Abstractions;

namespace BrokenPlugin;

/// <summary>Throws while the host creates it.</summary>
public sealed class ThrowingMethod : IAdaptationMethod
{
    public ThrowingMethod() => throw new InvalidOperationException("deliberately broken constructor");
    public PluginManifest Manifest => throw new NotSupportedException();
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new NotSupportedException();
}

/// <summary>Built for a contract version this host does not speak.</summary>
public sealed class FutureMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("future", PluginKind.Method, "9.0.0", "targets contract 99", ContractMajor: 99);
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new NotSupportedException();
}

/// <summary>Breaks the method contract on purpose (for <c>plugingpt verify</c>): creates its tensor on the default device,
/// claims to start as the base model but scales the first MLP's output, and its Dispose undoes nothing, so its wrapper stays
/// in the model.</summary>
public sealed class LeakyMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("leaky", PluginKind.Method, "1.0.0", "breaks the method contract on purpose");

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        Scale? scale = null;
        model.ReplaceModule(model.SubLayerPath(0, SubLayer.FeedForward), mlp => scale = new Scale(mlp));
        return new Attached(scale!);
    }

    sealed class Scale : ModuleWrapper
    {
        public readonly TorchSharp.Modules.Parameter factor = new(TorchSharp.torch.full(1, 1.5f));
        public Scale(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> mlp) : base("leak", mlp) =>
            RegisterComponents();
        public override TorchSharp.torch.Tensor forward(TorchSharp.torch.Tensor x) => WrappedForward(x) * factor;
    }

    sealed class Attached(Scale scale) : IAttachedMethod
    {
        public IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> Trainable => [("leak.factor", scale.factor)];
        public bool IsIdentityAtInit => true;
    }
}

/// <summary>A bug in a plugin, found at run time: its Attach throws (the host reports exit 1 with a crash log).</summary>
public sealed class ThrowsOnAttachMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("throws-on-attach", PluginKind.Method, "1.0.0", "its Attach throws, on purpose");
    public IAttachedMethod Attach(IDecoder model, JsonElement options) => throw new InvalidOperationException("deliberately broken attach");
}

/// <summary>Trains ln_f's bias but cannot save it (for verify: one failing check does not stop the others).</summary>
public sealed class ThrowsOnSaveMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("throws-on-save", PluginKind.Method, "1.0.0", "its Save throws, on purpose");

    public IAttachedMethod Attach(IDecoder model, JsonElement options) =>
        new Attached(model.Module.named_parameters().Where(p => p.name == "ln_f.bias").ToList());

    sealed class Attached(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable) : IAttachedMethod
    {
        public IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> Trainable => trainable;
        public void Save(string directory) => throw new IOException("deliberately broken save");
    }
}

/// <summary>Merges without changing the output but keeps a tensor from every merge (for verify's leak count across merge and
/// unmerge).</summary>
public sealed class MergeLeakMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("merge-leak", PluginKind.Method, "1.0.0", "its Merge leaks a tensor, on purpose");

    public IAttachedMethod Attach(IDecoder model, JsonElement options) =>
        new Attached(model.Module.named_parameters().Where(p => p.name == "ln_f.bias").ToList());

    sealed class Attached(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable) : IAttachedMethod
    {
        readonly List<TorchSharp.torch.Tensor> kept = [];
        public IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> Trainable => trainable;
        public bool CanMerge => true;
        public void Merge() => kept.Add(TorchSharp.torch.zeros(3));
        public void Unmerge() { }
        public void Dispose() { foreach (var t in kept) t.Dispose(); }
    }
}
