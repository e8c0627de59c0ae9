using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.PromptTuning;

/// <summary>
/// Hook point 2 as a module: P virtual token embeddings [P, d] prepended to every sequence, either trained directly
/// (prompt tuning) or produced by PEFT's MLP prompt encoder Linear → ReLU → Linear → ReLU → Linear (P-tuning).
/// </summary>
sealed class PromptEncoder : nn.Module, IInputEmbeddingHook
{
#pragma warning disable IDE1006 // PEFT state-dict names
    readonly Parameter embedding;
    readonly Sequential? mlp_head;
#pragma warning restore IDE1006

    public PromptEncoder(Tensor start, long hidden, bool mlp, Device device) : base(nameof(PromptEncoder))
    {
        long d = start.shape[1];
        embedding = new Parameter(start);   // takes over start's handle
        if (mlp)
            mlp_head = Sequential(("0", Linear(d, hidden, device: device)), ("1", ReLU()), ("2", Linear(hidden, hidden, device: device)),
                ("3", ReLU()), ("4", Linear(hidden, d, device: device)));
        RegisterComponents();
    }

    public int VirtualTokens => (int)embedding.shape[0];

    /// <summary>Prompt tuning: <c>prompt_embeddings</c>; P-tuning: PEFT's <c>prompt_encoder.*</c> names.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Named() => mlp_head is null
        ? [("prompt_embeddings", embedding)]
        : [("prompt_encoder.embedding.weight", embedding),
            .. mlp_head.named_parameters().Select(p => ($"prompt_encoder.mlp_head.{p.name}", p.parameter))];

    public Tensor Apply(Tensor embeddings, Tensor ids)
    {
        var prompt = mlp_head is null ? embedding : mlp_head.forward(embedding);
        return torch.cat([prompt.unsqueeze(0).expand(embeddings.shape[0], -1, -1).to(embeddings.dtype), embeddings], 1);
    }
}

/// <summary>
/// Hook point 3 as a module: PEFT's prefix layout, one row per virtual token holding every layer's key and value
/// [P, L·2·d], trained directly or re-parameterised (<c>prefix_projection</c>) as Linear → tanh → Linear from [P, d].
/// </summary>
sealed class PrefixEncoder : nn.Module, IKeyValuePrefixProvider
{
#pragma warning disable IDE1006 // PEFT state-dict names
    readonly Parameter embedding;
    readonly Sequential? transform;
#pragma warning restore IDE1006
    readonly GptConfig config;

    public PrefixEncoder(Tensor start, GptConfig config, long hidden, bool projection, Device device) : base(nameof(PrefixEncoder))
    {
        this.config = config;
        long tokenDim = start.shape[1];   // read before the parameter takes the tensor over
        embedding = new Parameter(start);
        long width = config.Layers * 2L * config.KeyValueHeads * config.HeadDim;   // keys and values of every key-value head
        if (projection)
            transform = Sequential(("0", Linear(tokenDim, hidden, device: device)), ("1", Tanh()),
                ("2", Linear(hidden, width, device: device)));
        RegisterComponents();
    }

    public IReadOnlyList<(string Name, Parameter Parameter)> Named() =>
        [("prompt_embeddings", embedding), .. transform?.named_parameters().Select(p => ($"transform.{p.name}", p.parameter)) ?? []];

    public (Tensor Keys, Tensor Values)? GetPrefix(int layer, long batch)
    {
        var rows = transform is null ? embedding : transform.forward(embedding);
        // [P, L, 2, Hkv, D] → this layer's keys and values as [B, Hkv, P, D]
        var kv = rows.view(rows.shape[0], config.Layers, 2, config.KeyValueHeads, config.HeadDim)[.., layer].permute(1, 2, 0, 3);
        return (kv[0].unsqueeze(0).expand(batch, -1, -1, -1), kv[1].unsqueeze(0).expand(batch, -1, -1, -1));
    }
}
