using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using PluginGpt.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.PromptTuning;

/// <summary>What the three virtual-token methods share: option checks, a frozen body, PEFT-style files.</summary>
public abstract class VirtualTokenMethod : IAdaptationMethod
{
    public abstract PluginManifest Manifest { get; }
    /// <summary>PEFT's <c>peft_type</c>.</summary>
    protected abstract string PeftType { get; }

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<VirtualTokenOptions>(options, "method.options");
        PluginOptions.Require(o.NumVirtualTokens >= 1 && o.NumVirtualTokens < model.Config.Context, "method.options", "num_virtual_tokens",
            $"must be in [1, {model.Config.Context}), got {o.NumVirtualTokens}");
        PluginOptions.Require(o.Init is "vocab" or "random", "method.options", "init", $"must be 'vocab' or 'random', got '{o.Init}'");
        PluginOptions.Require(o.EncoderHiddenSize >= 0, "method.options", "encoder_hidden_size", $"must be ≥ 0, got {o.EncoderHiddenSize}");
        foreach (var p in model.Module.parameters()) p.requires_grad = false;
        return Install(model, o);
    }

    protected abstract IAttachedMethod Install(IDecoder model, VirtualTokenOptions options);

    /// <summary>Parameters listed by name; save and load are PEFT-like files of exactly these.</summary>
    protected sealed class Attached(IReadOnlyList<(string Name, Parameter Parameter)> trainable, JsonObject config, Action detach) : IAttachedMethod
    {
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => trainable;
        public void Save(string directory) => AdapterFiles.Save(directory, config, trainable);
        public void Load(string directory) => AdapterFiles.Load(directory, trainable);
        public bool CanMerge => false;
        public void Merge() => throw new NotSupportedException("virtual tokens cannot be merged into the base weights");
        public void Unmerge() { }
        public void Dispose() => detach();
    }

    protected JsonObject Config(IDecoder model, VirtualTokenOptions o) => new()
    {
        ["peft_type"] = PeftType, ["num_virtual_tokens"] = o.NumVirtualTokens, ["token_dim"] = model.Config.ModelDim,
        ["num_layers"] = model.Config.Layers, ["num_attention_heads"] = model.Config.Heads, ["prompt_tuning_init"] = o.Init.ToUpperInvariant(),
    };

    /// <summary>[P, d] starting embeddings: rows of <c>wte</c> for seeded random token ids, or N(0, 0.02).</summary>
    protected static Tensor Start(IDecoder model, VirtualTokenOptions o)
    {
        using var _ = torch.no_grad();
        if (model.Device.type == DeviceType.META) return torch.empty(o.NumVirtualTokens, model.Config.ModelDim, device: model.Device);   // shapes only (inspect)
        if (o.Init == "random") return torch.randn(o.NumVirtualTokens, model.Config.ModelDim, device: model.Device) * 0.02;
        var rng = new Random(o.Seed);
        var ids = torch.tensor(Enumerable.Range(0, o.NumVirtualTokens).Select(_ => (long)rng.Next(model.Config.Vocab)).ToArray(), device: model.Device);
        return model.EmbedTokens(ids.unsqueeze(0))[0].detach().clone();
    }

    /// <summary>Hook point 2: prepends [P, d] virtual token embeddings to every sequence.</summary>
    protected sealed class Prepend(int length, Func<Tensor> prompt) : IInputEmbeddingHook
    {
        public int VirtualTokens => length;
        public Tensor Apply(Tensor embeddings, Tensor ids)
        {
            var p = prompt();
            return torch.cat([p.unsqueeze(0).expand(embeddings.shape[0], -1, -1).to(embeddings.dtype), embeddings], 1);
        }
    }

    protected static Action Claim(IDecoder model, IInputEmbeddingHook hook)
    {
        if (model.InputEmbeddingHook is not null) throw new ArgumentException("method: the model's input-embedding hook is taken by another method");
        model.InputEmbeddingHook = hook;
        return () => { if (ReferenceEquals(model.InputEmbeddingHook, hook)) model.InputEmbeddingHook = null; };
    }
}

/// <summary><c>prompt</c> (Lester et al. 2021): P trainable input embeddings before the text.</summary>
public sealed class PromptTuningMethod : VirtualTokenMethod
{
    public override PluginManifest Manifest { get; } = new("prompt", PluginKind.Method, "1.0.0", "Prompt tuning: trainable virtual token embeddings prepended to the input.");
    protected override string PeftType => "PROMPT_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o)
    {
        var prompt = new Parameter(Start(model, o));
        return new Attached([("prompt_embeddings", prompt)], Config(model, o), Claim(model, new Prepend(o.NumVirtualTokens, () => prompt)));
    }
}

/// <summary><c>p-tuning</c> (Liu et al. 2021, GPT Understands, Too): virtual tokens re-parameterised by an MLP encoder.</summary>
public sealed class PTuningMethod : VirtualTokenMethod
{
    public override PluginManifest Manifest { get; } = new("p-tuning", PluginKind.Method, "1.0.0", "P-tuning: virtual tokens produced by an MLP prompt encoder.");
    protected override string PeftType => "P_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o)
    {
        long d = model.Config.ModelDim, hidden = o.EncoderHiddenSize == 0 ? d : o.EncoderHiddenSize;
        var embedding = new Parameter(Start(model, o));
        // PEFT's MLP prompt encoder: Linear → ReLU → Linear → ReLU → Linear.
        var encoder = torch.nn.Sequential(
            ("0", torch.nn.Linear(d, hidden, device: model.Device)), ("1", torch.nn.ReLU()),
            ("2", torch.nn.Linear(hidden, hidden, device: model.Device)), ("3", torch.nn.ReLU()),
            ("4", torch.nn.Linear(hidden, d, device: model.Device)));
        var trainable = encoder.named_parameters().Select(p => ($"prompt_encoder.mlp_head.{p.name}", p.parameter))
            .Prepend(("prompt_encoder.embedding.weight", embedding)).ToList();
        var config = Config(model, o);
        config["encoder_hidden_size"] = hidden;
        config["encoder_reparameterization_type"] = "MLP";
        return new Attached(trainable, config, Claim(model, new Prepend(o.NumVirtualTokens, () => encoder.forward(embedding))));
    }
}

/// <summary><c>prefix</c> (Li &amp; Liang 2021): P trainable keys and values in every layer (no re-parameterisation).</summary>
public sealed class PrefixTuningMethod : VirtualTokenMethod
{
    public override PluginManifest Manifest { get; } = new("prefix", PluginKind.Method, "1.0.0", "Prefix tuning: trainable per-layer key/value prefixes.");
    protected override string PeftType => "PREFIX_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o)
    {
        var c = model.Config;
        if (model.KeyValuePrefix is not null) throw new ArgumentException("method: the model's key/value prefix hook is taken by another method");
        long width = c.Layers * 2L * c.ModelDim, hidden = o.EncoderHiddenSize == 0 ? c.ModelDim : o.EncoderHiddenSize;
        Parameter prefix;
        using (torch.no_grad())
            prefix = new Parameter(o.PrefixProjection ? Start(model, o) : torch.randn(o.NumVirtualTokens, width, device: model.Device) * 0.02);
        var trainable = new List<(string, Parameter)> { ("prompt_embeddings", prefix) };
        Func<Tensor> rows = () => prefix;
        if (o.PrefixProjection)
        {
            var transform = torch.nn.Sequential(("0", torch.nn.Linear(c.ModelDim, hidden, device: model.Device)), ("1", torch.nn.Tanh()),
                ("2", torch.nn.Linear(hidden, width, device: model.Device)));
            trainable.AddRange(transform.named_parameters().Select(p => ($"transform.{p.name}", p.parameter)));
            rows = () => transform.forward(prefix);
        }
        var provider = new Prefix(rows, c);
        model.KeyValuePrefix = provider;
        var config = Config(model, o);
        config["prefix_projection"] = o.PrefixProjection;
        return new Attached(trainable, config, () => { if (ReferenceEquals(model.KeyValuePrefix, provider)) model.KeyValuePrefix = null; });
    }

    /// <summary>PEFT's layout: one row per virtual token holding every layer's key and value, [P, L·2·d].</summary>
    sealed class Prefix(Func<Tensor> rows, GptConfig c) : IKeyValuePrefixProvider
    {
        public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batch)
        {
            var prefix = rows();
            // [P, L, 2, H, D] → this layer's keys and values as [B, H, P, D]
            var kv = prefix.view(prefix.shape[0], c.Layers, 2, c.Heads, c.HeadDim)[.., layer].permute(1, 2, 0, 3);
            return (kv[0].unsqueeze(0).expand(batch, -1, -1, -1), kv[1].unsqueeze(0).expand(batch, -1, -1, -1));
        }
    }
}
