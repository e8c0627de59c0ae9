using PluginGpt.Core.Model.Llama;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>
/// A decoder of the family its config names. GPT-2 (and GPT-1, post-LN, without <c>ln_f</c>) with GPT-2's parameter names
/// (<c>wte</c>, <c>wpe</c>, <c>h.{i}.attn.c_attn</c>, …, <c>ln_f</c>); the Llama family with Hugging Face's (<c>embed_tokens</c>,
/// <c>layers.{i}.self_attn.q_proj</c>, …, <c>norm</c>). The LM head is the token embedding itself when tied, otherwise
/// <c>lm_head</c>. Everything outside the blocks — hooks, cache, padding, the head — is shared by both.
/// </summary>
public sealed partial class Decoder : Module, IDecoder
{
#pragma warning disable IDE1006 // GPT-2 / Hugging Face state-dict names; each family leaves the other's fields null
    readonly Embedding? wte;
    readonly Embedding? wpe;
    readonly FastDropoutLayer? drop;
    readonly ModuleList<DecoderBlock>? h;
    readonly LayerNorm? ln_f;
    readonly Embedding? embed_tokens;
    readonly ModuleList<DecoderBlock>? layers;
    readonly RmsNorm? norm;
    readonly Linear? lm_head;
#pragma warning restore IDE1006
    readonly DecoderFamily family;

    public GptConfig Config { get; private set; }

    /// <summary>Hook point 2 (prompt tuning, P-tuning). Null costs nothing.</summary>
    public IInputEmbeddingHook? InputEmbeddingHook { get; set; }
    /// <summary>Hook point 3 (prefix tuning). Null costs nothing.</summary>
    public IKeyValuePrefixProvider? KeyValuePrefix { get; set; }
#pragma warning disable CS0618 // hook point 4 is obsolete (sub-layers are wrapped instead) but still honoured
    /// <summary>Hook point 4, obsolete: methods wrap the sub-layer instead (<see cref="ReplaceModule"/>). Null costs nothing.</summary>
    public IBlockOutputHook? BlockOutputHook { get; set; }
#pragma warning restore CS0618
    /// <summary>Recompute each block's activations in the backward pass instead of keeping them (<see cref="BlockCheckpoint"/>):
    /// applies while training with gradients on.</summary>
    public bool GradientCheckpointing { get; set; }

    /// <param name="device">where parameters are created; <c>meta</c> builds shapes only (counting GPT-2 sizes costs no memory).</param>
    public Decoder(GptConfig config, Device? device = null) : base("transformer")
    {
        config.Validate();
        Config = config;
        family = DecoderFamily.Of(config);
        var blocks = Enumerable.Range(0, config.Layers)
            .Select(i => config.IsLlamaFamily ? (DecoderBlock)new LlamaBlock(config, i, device) : new Block(config, i, device)).ToArray();
        if (config.IsLlamaFamily)
        {
            embed_tokens = Embedding(config.Vocab, config.ModelDim, device: device);
            layers = new ModuleList<DecoderBlock>(blocks);
            norm = new RmsNorm(config.ModelDim, config.LayerNormEpsilon, device);
        }
        else
        {
            wte = Embedding(config.Vocab, config.ModelDim, device: device);
            wpe = Embedding(config.Context, config.ModelDim, device: device);
            drop = new FastDropoutLayer(config.EmbeddingDropout);
            h = new ModuleList<DecoderBlock>(blocks);
            if (config.Norm == NormPlacement.Pre) ln_f = LayerNorm(config.ModelDim, config.LayerNormEpsilon, device: device);
        }
        if (!config.TiedHead) lm_head = Linear(config.ModelDim, config.Vocab, hasBias: false, device: device);
        RegisterComponents();
        Initializer.Apply(this);
    }

    ModuleList<DecoderBlock> BlockList => (h ?? layers)!;
    Embedding Tokens => (wte ?? embed_tokens)!;
    public IReadOnlyList<DecoderBlock> Blocks => BlockList.ToArray();
    /// <summary>Token positions through <see cref="Forward(Tensor, KvCache?, Tensor?)"/> so far (padding included): throughput
    /// telemetry.</summary>
    public long TokensForwarded => Interlocked.Read(ref tokensForwarded);
    long tokensForwarded, sequencesForwarded, lmHeadRows;   // counted with Interlocked: a batch's shards run at once (BatchShards)
    /// <summary>Sequences started through <see cref="Forward(Tensor, KvCache?, Tensor?)"/> (a cached continuation is not a new
    /// one).</summary>
    public long SequencesForwarded => Interlocked.Read(ref sequencesForwarded);
    long? IDecoder.TokensForwarded => TokensForwarded;
    long? IDecoder.SequencesForwarded => SequencesForwarded;
    nn.Module IDecoder.Module => this;
    public Device Device => TokenWeight.device;
    /// <summary><c>wte</c>'s weight as registered in the module tree. TorchSharp's <c>Embedding.weight</c> getter makes a new
    /// wrapper on every call (one more tensor for someone to dispose), so the decoder never uses it.</summary>
    Parameter TokenWeight => Tokens.get_parameter("weight")!;
    Tensor IDecoder.Forward(Tensor inputIds, Tensor? keyPaddingMask) => Forward(inputIds, null, keyPaddingMask);
    Tensor IDecoder.Forward(Tensor inputIds, Tensor? keyPaddingMask, List<Tensor> layerStates) =>
        Forward(inputIds, null, keyPaddingMask, layerStates);
    Tensor IDecoder.ForwardToLayer(Tensor inputIds, Tensor? keyPaddingMask, int layer)
    {
        if (layer < 0 || layer > Config.Layers) throw new ArgumentOutOfRangeException(nameof(layer), $"must be in [0, {Config.Layers}]");
        return Forward(inputIds, null, keyPaddingMask, null, layer);
    }
    public Tensor EmbedTokens(Tensor inputIds) => Tokens.call(inputIds);
    public Embedding TokenEmbedding => Tokens;
    /// <summary>GPT-2's learned positions; null in the Llama family (rotary positions live in the attention).</summary>
    public Embedding? PositionEmbedding => wpe;

    /// <summary>
    /// Hidden states [B, T, C] after the last block (and <c>ln_f</c>) for token ids [B, T].
    /// <paramref name="cache"/> continues a sequence; <paramref name="keyPaddingMask"/> [B, past + T] (1 = real token)
    /// hides padding keys.
    /// </summary>
    public Tensor Forward(Tensor inputIds, KvCache? cache = null, Tensor? keyPaddingMask = null, List<Tensor>? layerStates = null) =>
        Forward(inputIds, cache, keyPaddingMask, layerStates, stopAfterBlocks: null);

    /// <summary>The pass; with <paramref name="stopAfterBlocks"/> = k it returns the residual stream after k blocks (no final
    /// norm) and runs no later block.</summary>
    Tensor Forward(Tensor inputIds, KvCache? cache, Tensor? keyPaddingMask, List<Tensor>? layerStates, int? stopAfterBlocks)
    {
        Interlocked.Add(ref tokensForwarded, inputIds.numel());
        if (cache is null || cache.Length == 0) Interlocked.Add(ref sequencesForwarded, inputIds.shape[0]);
        long steps = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        var x = Tokens.call(inputIds);
        long virtualTokens = 0;
        if (InputEmbeddingHook is not null && past == 0)
        {
            x = InputEmbeddingHook.Apply(x, inputIds);
            virtualTokens = x.shape[1] - steps;
            if (keyPaddingMask is not null && virtualTokens > 0)
                keyPaddingMask = torch.cat(
                    [torch.ones(keyPaddingMask.shape[0], virtualTokens, keyPaddingMask.dtype, keyPaddingMask.device), keyPaddingMask], 1);
        }
        long total = past + x.shape[1];
        if (total > Config.Context)
            throw new ArgumentException($"sequence of {total} positions exceeds the model's context of {Config.Context} (n_positions)");
        var positions = torch.arange(past, total, dtype: ScalarType.Int64, device: inputIds.device);
        (Tensor, Tensor)? rotary = null;
        if (wpe is not null) x = drop!.call(KeptScalars.Add(x, wpe.call(positions)));
        else rotary = RotaryEmbedding.Table(positions, Config.HeadDim, Config.RopeTheta);

        var context = new AttentionContext(cache, past, KeyValuePrefix, keyPaddingMask, rotary, BlockOutputHook);
        Tensor Real(Tensor t) => virtualTokens > 0 ? t[.., (int)virtualTokens..] : t;   // virtual tokens are not the caller's
        layerStates?.Add(Real(x));
        bool recompute = GradientCheckpointing && training && torch.is_grad_enabled() && cache is null;
        // A frozen embedding gives an input without gradient, and a checkpoint of such an input would not be recorded at all (nor
        // would the trainable tensors inside its blocks get gradients): the input is made a leaf that asks for one.
        if (recompute && !x.requires_grad) x = x.detach().requires_grad_(true);
        int blocksRun = 0;
        foreach (var block in BlockList)
        {
            if (blocksRun++ == stopAfterBlocks) break;
            x = recompute ? BlockCheckpoint.Run(x, h => block.call(h, context)) : DecoderBlock.Freeing(() => block.call(x, context));
            layerStates?.Add(Real(x));
        }
        if (stopAfterBlocks is not null) return Real(x);
        if (ln_f is not null) x = ln_f.call(x);
        if (norm is not null) x = norm.call(x);
        return Real(x);
    }

    /// <summary>
    /// Grows the vocabulary to <paramref name="vocab"/> tokens, as GPT-1 added its start, delimiter and extract tokens:
    /// existing rows stay as they are, new rows start N(0, 0.02) (drawn from TorchSharp's seeded generator).
    /// </summary>
    public void ResizeTokenEmbeddings(int vocab)
    {
        if (vocab < Config.Vocab) throw new ArgumentException($"vocab_size: cannot shrink the vocabulary from {Config.Vocab} to {vocab}");
        if (vocab == Config.Vocab) return;
        var oldTokens = TokenWeight;
        Tokens.weight = Grow(oldTokens, vocab);
        oldTokens.Dispose();   // replaced in the tree: the decoder owned it
        if (lm_head is not null) lm_head.weight = Grow(lm_head.weight!, vocab);   // Linear's setter disposes the weight it replaces
        Config = Config with { Vocab = vocab };
    }

    static Parameter Grow(Parameter old, int rows)
    {
        var fresh = torch.empty(rows, old.shape[1], old.dtype, old.device);
        using (torch.NewDisposeScope())   // the views and returned wrappers below
        using (torch.no_grad())
        {
            init.normal_(fresh, 0, 0.02);
            fresh.narrow(0, 0, old.shape[0]).copy_(old);
        }
        // The decoder owns it: out of any dispose scope the caller may be in (Embedding's setter, unlike Linear's, does not detach).
        return (Parameter)new Parameter(fresh, old.requires_grad).DetachFromDisposeScope();
    }

    /// <summary>Next-token logits [B, T, V] from hidden states; bf16 inside an <see cref="Autocast"/> region (take
    /// <see cref="Autocast.Float"/> before a loss or softmax).</summary>
    public Tensor LmHead(Tensor hidden)
    {
        Interlocked.Add(ref lmHeadRows, hidden.numel() / hidden.shape[^1]);
        return lm_head is not null ? Autocast.Linear(lm_head, hidden) : Autocast.Linear(hidden, TokenWeight);
    }

    /// <summary>The head's weight (the token embedding's when tied): what the fused loss multiplies by.</summary>
    public Tensor LmHeadWeight => lm_head?.weight ?? TokenWeight;
    Tensor? IDecoder.LmHeadWeight => LmHeadWeight;

    /// <summary>Positions that went through <see cref="LmHead"/> so far: tests check that objectives ask for the logits they need
    /// only.</summary>
    public long LmHeadRows => Interlocked.Read(ref lmHeadRows);

    /// <summary>Logits [B, T, V] for token ids [B, T].</summary>
    public Tensor Logits(Tensor inputIds, KvCache? cache = null, Tensor? keyPaddingMask = null) =>
        LmHead(Forward(inputIds, cache, keyPaddingMask));

    /// <summary>Mean next-token cross-entropy; targets equal to -1 are ignored.</summary>
    public Tensor LanguageModelLoss(Tensor inputIds, Tensor targets)
    {
        var (sum, count) = LanguageModelLossSum(Forward(inputIds), targets);
        return sum / count;
    }

    /// <summary>The summed next-token cross-entropy of hidden states [B, T, d] against targets [B, T] (-1 ignored) and how many
    /// targets count, the LM head and the loss a chunk of rows at a time (see <see cref="Abstractions.LanguageModelLoss"/>).</summary>
    public (Tensor Sum, Tensor Count) LanguageModelLossSum(Tensor hidden, Tensor targets, long? rowsPerChunk = null) =>
        Abstractions.LanguageModelLoss.Sum(this, hidden, targets, rowsPerChunk);

    /// <summary>Distinct parameters (a tied weight once), in registration order: what an optimizer must see.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> DistinctParameters() => ParameterSet.Distinct(named_parameters());

    readonly HashSet<string> attachedNames = [];

    /// <summary>A method's module joins the tree as a child of the decoder (see <see cref="IDecoder.AttachModule"/>).</summary>
    public void AttachModule(string name, Module module)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"attached module name '{name}' must be non-empty and without dots");
        if (named_children().Any(c => c.name == name))
            throw new ArgumentException($"cannot attach a module as '{name}': the decoder already has a child of that name");
        register_module(name, module);
        attachedNames.Add(name);
    }

    public Module DetachModule(string name)
    {
        if (!attachedNames.Remove(name)) throw new ArgumentException($"no module is attached as '{name}'");
        var module = named_children().First(c => c.name == name).module;
        register_module(name, null!);   // null unregisters
        return module;
    }

    /// <summary>Names of the modules methods have attached (empty for the bare model).</summary>
    public IReadOnlyCollection<string> AttachedModules => attachedNames;
}
