using System.Text.Json;
using System.Text.Json.Nodes;
using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.PromptTuning;

/// <summary>What the three virtual-token methods share: option checks, a frozen body, PEFT-style files, a module in the tree.</summary>
public abstract class VirtualTokenMethod : IAdaptationMethod
{
    public abstract PluginManifest Manifest { get; }

    /// <summary>Hook point 2 (prompt, P-tuning) or 3 (prefix).</summary>
    public abstract HookPoints? Uses(JsonElement options);
    /// <summary>PEFT's <c>peft_type</c>.</summary>
    protected abstract string PeftType { get; }

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<VirtualTokenOptions>(options, "method.options");
        PluginOptions.Require(o.NumVirtualTokens >= 1 && o.NumVirtualTokens < model.Config.Context, "method.options", "num_virtual_tokens",
            $"must be in [1, {model.Config.Context}), got {o.NumVirtualTokens}");
        PluginOptions.Require(o.Init is "vocab" or "random", "method.options", "init", $"must be 'vocab' or 'random', got '{o.Init}'");
        PluginOptions.Require(o.EncoderHiddenSize >= 0, "method.options", "encoder_hidden_size",
            $"must be ≥ 0, got {o.EncoderHiddenSize}");
        var config = new JsonObject
        {
            ["peft_type"] = PeftType,
            ["num_virtual_tokens"] = o.NumVirtualTokens,
            ["token_dim"] = model.Config.ModelDim,
            ["num_layers"] = model.Config.Layers,
            ["num_attention_heads"] = model.Config.Heads,
            ["prompt_tuning_init"] = o.Init.ToUpperInvariant(),
        };
        return Install(model, o, config);
    }

    protected abstract IAttachedMethod Install(IDecoder model, VirtualTokenOptions options, JsonObject config);

    /// <summary>Trains the module's parameters; save and load are PEFT-like files of exactly these; dispose unhooks and frees the
    /// module.</summary>
    protected sealed class Attached(IReadOnlyList<(string Name, Parameter Parameter)> trainable, JsonObject config, Action detach)
        : IAttachedMethod
    {
        Action? detach = detach;
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => trainable;
        public void Save(string directory) => AdapterFiles.Save(directory, config, trainable);
        public void Dispose() { detach?.Invoke(); detach = null; }
    }

    /// <summary>[P, d] starting embeddings: rows of <c>wte</c> for seeded random token ids, or N(0, 0.02).</summary>
    protected static Tensor Start(IDecoder model, VirtualTokenOptions o)
    {
        using var scope = torch.NewDisposeScope();   // intermediates are freed; only the result leaves
        using var _ = torch.no_grad();
        return Draw().MoveToOuterDisposeScope();

        Tensor Draw()
        {
            if (model.Device.type == DeviceType.META)
                return torch.empty(o.NumVirtualTokens, model.Config.ModelDim, device: model.Device);   // shapes only (inspect)
            if (o.Init == "random") return torch.randn(o.NumVirtualTokens, model.Config.ModelDim, device: model.Device) * 0.02;
            var rng = new Random(o.Seed);
            var ids = torch.tensor(Enumerable.Range(0, o.NumVirtualTokens).Select(_ => (long)rng.Next(model.Config.Vocab)).ToArray(),
                device: model.Device);
            return model.EmbedTokens(ids.unsqueeze(0))[0].detach().clone();
        }
    }

    /// <summary>[rows, width] drawn from N(0, 0.02).</summary>
    protected static Tensor Random(IDecoder model, long rows, long width)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        return (torch.randn(rows, width, device: model.Device) * 0.02).MoveToOuterDisposeScope();
    }

    /// <summary>Hook point 2 for prompt tuning and P-tuning: the encoder joins the tree as <c>prompt_encoder</c>.</summary>
    private protected static IAttachedMethod InstallPrompt(IDecoder model, PromptEncoder encoder, JsonObject config)
    {
        if (model.InputEmbeddingHook is not null)
            throw new InvalidOperationException("the model's input-embedding hook is taken by another method");
        var owned = OwnedModule.Attach(model, "prompt_encoder", encoder);
        model.InputEmbeddingHook = encoder;
        return new Attached(encoder.Named(), config, () =>
        {
            if (ReferenceEquals(model.InputEmbeddingHook, encoder)) model.InputEmbeddingHook = null;
            owned.Dispose();
        });
    }
}

/// <summary><c>prompt</c> (Lester et al. 2021): P trainable input embeddings before the text.</summary>
public sealed class PromptTuningMethod : VirtualTokenMethod
{
    public override HookPoints? Uses(JsonElement options) => HookPoints.InputEmbeddings;

    public override PluginManifest Manifest { get; } = new("prompt", PluginKind.Method, "1.0.0",
        "Prompt tuning: trainable virtual token embeddings prepended to the input.");
    protected override string PeftType => "PROMPT_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o, JsonObject config) =>
        InstallPrompt(model, new PromptEncoder(Start(model, o), 0, mlp: false, model.Device), config);
}

/// <summary><c>p-tuning</c> (Liu et al. 2021, GPT Understands, Too): virtual tokens re-parameterised by an MLP encoder.</summary>
public sealed class PTuningMethod : VirtualTokenMethod
{
    public override HookPoints? Uses(JsonElement options) => HookPoints.InputEmbeddings;

    public override PluginManifest Manifest { get; } = new("p-tuning", PluginKind.Method, "1.0.0",
        "P-tuning: virtual tokens produced by an MLP prompt encoder.");
    protected override string PeftType => "P_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o, JsonObject config)
    {
        long hidden = o.EncoderHiddenSize == 0 ? model.Config.ModelDim : o.EncoderHiddenSize;
        config["encoder_hidden_size"] = hidden;
        config["encoder_reparameterization_type"] = "MLP";
        return InstallPrompt(model, new PromptEncoder(Start(model, o), hidden, mlp: true, model.Device), config);
    }
}

/// <summary><c>prefix</c> (Li &amp; Liang 2021): P trainable keys and values in every layer, optionally re-parameterised.</summary>
public sealed class PrefixTuningMethod : VirtualTokenMethod
{
    public override HookPoints? Uses(JsonElement options) => HookPoints.KeyValuePrefix;

    public override PluginManifest Manifest { get; } = new("prefix", PluginKind.Method, "1.0.0",
        "Prefix tuning: trainable per-layer key/value prefixes.");
    protected override string PeftType => "PREFIX_TUNING";

    protected override IAttachedMethod Install(IDecoder model, VirtualTokenOptions o, JsonObject config)
    {
        var c = model.Config;
        if (model.KeyValuePrefix is not null)
            throw new InvalidOperationException("the model's key/value prefix hook is taken by another method");
        // Keys and values per key-value head: under grouped-query attention a layer's prefix is 2 × kv heads × head dim wide, as PEFT
        // sizes it (token_dim = hidden / heads × kv heads, also the projection's input and default width); GPT-2 and Llama without
        // GQA get n_embd, and their projected prefix starts from vocabulary rows as before.
        long keyValueDim = (long)c.KeyValueHeads * c.HeadDim;
        long hidden = o.EncoderHiddenSize == 0 ? keyValueDim : o.EncoderHiddenSize;
        var start = !o.PrefixProjection ? Random(model, o.NumVirtualTokens, c.Layers * 2L * keyValueDim)
            : keyValueDim == c.ModelDim ? Start(model, o) : Random(model, o.NumVirtualTokens, keyValueDim);
        var encoder = new PrefixEncoder(start, c, hidden, o.PrefixProjection, model.Device);
        var owned = OwnedModule.Attach(model, "prefix_encoder", encoder);
        model.KeyValuePrefix = encoder;
        config["prefix_projection"] = o.PrefixProjection;
        if (o.PrefixProjection) config["encoder_hidden_size"] = hidden;
        config["token_dim"] = keyValueDim;
        config["num_attention_heads"] = c.KeyValueHeads;
        return new Attached(encoder.Named(), config, () =>
        {
            if (ReferenceEquals(model.KeyValuePrefix, encoder)) model.KeyValuePrefix = null;
            owned.Dispose();
        });
    }
}
