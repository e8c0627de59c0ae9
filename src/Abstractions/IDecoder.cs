using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Abstractions;

/// <summary>
/// The pretrained decoder as plugins see it: a forward pass, the LM head, replaceable child modules (sub-layers and their
/// Linears), and the hook points for what is not a child's output (virtual tokens, key/value prefixes).
/// The host's <c>PluginGpt.Core.Model.Decoder</c> implements it.
/// </summary>
public interface IDecoder
{
    /// <summary>The model's shape (layers, widths, heads, context, vocabulary); read it to size what a method adds.</summary>
    GptConfig Config { get; }
    /// <summary>The TorchSharp module: parameters, <c>train()</c>/<c>eval()</c>. The host moves it to its device before any method
    /// attaches and never after; a plugin must not move it either (a move replaces parameter objects that attachments hold).</summary>
    nn.Module Module { get; }
    /// <summary>Where the model's parameters live: create every module and tensor of a method here.</summary>
    Device Device { get; }

    /// <summary>Hidden states [B, T, C] after the last block; <paramref name="keyPaddingMask"/> [B, T] is 1 for real tokens.</summary>
    Tensor Forward(Tensor inputIds, Tensor? keyPaddingMask = null);
    /// <summary>The same pass, also filling <paramref name="layerStates"/> with the residual stream [B, T, C] after the embeddings
    /// (index 0) and after each block (index i + 1, before <c>ln_f</c>): what a probe at any layer reads.</summary>
    Tensor Forward(Tensor inputIds, Tensor? keyPaddingMask, List<Tensor> layerStates);
    /// <summary>The residual stream [B, T, C] after <paramref name="layer"/> blocks (0: the embeddings), computing no later block:
    /// what a probe at layer k reads, at k/L of the full pass's cost. Since SDK 2.6; the default runs the whole pass.</summary>
    Tensor ForwardToLayer(Tensor inputIds, Tensor? keyPaddingMask, int layer)
    {
        var states = new List<Tensor>();
        Forward(inputIds, keyPaddingMask, states);
        return states[layer];
    }
    /// <summary>Next-token logits [.., V] from hidden states.</summary>
    Tensor LmHead(Tensor hidden);
    /// <summary>The LM head's weight [V, C] (the token embedding's when tied), for losses that fuse the head with the
    /// cross-entropy (<see cref="LanguageModelLoss"/>); null (the default) where the head is not a plain weight. Since SDK 2.9.</summary>
    Tensor? LmHeadWeight => null;
    /// <summary>Token embeddings [B, T, C] (the <c>wte</c> lookup alone).</summary>
    Tensor EmbedTokens(Tensor inputIds);

    /// <summary>Hook point 1: dotted paths of every replaceable Linear (<c>h.0.attn.c_attn</c>, …, <c>h.{L-1}.mlp.c_proj</c>;
    /// Llama: <c>layers.0.self_attn.q_proj</c>, …, <c>layers.{L-1}.mlp.down_proj</c>).</summary>
    IReadOnlyList<string> LinearPaths();
    /// <summary>The in-block names (<c>attn.c_attn</c>, <c>self_attn.q_proj</c>) of the Linears that play any of
    /// <paramref name="roles"/>, each once, in block order: a method's per-architecture defaults without branching on the family
    /// (GPT-2 answers Query and Value both with <c>attn.c_attn</c>). Since SDK 2.3.</summary>
    IReadOnlyList<string> LinearNames(params LinearRole[] roles);
    /// <summary>The Hugging Face module name of a hook point 1 path (<c>transformer.h.0.attn.c_attn</c>,
    /// <c>model.layers.0.self_attn.q_proj</c>): what PEFT's adapter files and <c>target_modules</c> use. Since SDK 2.3.</summary>
    string HuggingFaceName(string path);
    /// <summary>Whether Hugging Face's files hold the projections transposed, as GPT-2's Conv1D ([in, out]): PEFT's
    /// <c>fan_in_fan_out</c>. Since SDK 2.3.</summary>
    bool StoresConv1D { get; }
    /// <summary>The module now at a hook point 1 path: <see cref="GetModule"/>, which also takes sub-layer paths.</summary>
    [Obsolete("Use GetModule: the same for Linear paths, and it also takes sub-layer paths (SDK 2.9).")]
    Module<Tensor, Tensor> GetLinear(string path);
    /// <summary>Wraps the Linear at a hook point 1 path: <see cref="ReplaceModule"/>, which also takes sub-layer paths.</summary>
    [Obsolete("Use ReplaceModule: the same for Linear paths, and it also takes sub-layer paths (SDK 2.9).")]
    void ReplaceLinear(string path, Func<Module<Tensor, Tensor>, Module<Tensor, Tensor>> wrap);

    /// <summary>Dotted paths of every child module a method may replace, block by block: each sub-layer (<c>h.0.attn</c>,
    /// <c>h.0.mlp</c>; Llama <c>layers.0.self_attn</c>, <c>layers.0.mlp</c>) followed by its Linears (<see cref="LinearPaths"/>).
    /// Since SDK 2.9; the default lists the Linears alone.</summary>
    IReadOnlyList<string> ModulePaths() => LinearPaths();
    /// <summary>The path of block <paramref name="layer"/>'s <paramref name="which"/> sub-layer (<c>h.3.mlp</c>,
    /// <c>layers.3.self_attn</c>): what an adapter that wraps a whole sub-layer replaces. Since SDK 2.9.</summary>
    string SubLayerPath(int layer, SubLayer which) =>
        throw new NotSupportedException($"{GetType().Name} does not expose its sub-layers (SDK 2.9)");
    /// <summary>The module now at <paramref name="path"/> (<see cref="ModulePaths"/>): the decoder's own — a sub-layer, or a
    /// TorchSharp <c>Linear</c> (weight [out, in], on <see cref="Device"/>, frozen) — unless a method has wrapped it. Unknown
    /// paths throw <see cref="OptionsException"/> listing valid ones. Since SDK 2.9.</summary>
#pragma warning disable CS0618 // the default for decoders built against SDK 2.8 and older
    Module<Tensor, Tensor> GetModule(string path) => GetLinear(path);
    /// <summary>Puts <paramref name="wrap"/>(current module) at <paramref name="path"/>; the wrapper becomes part of the module tree
    /// and the block calls it where it called the module (<see cref="ModuleWrapper"/>). A Linear's path keeps reaching that
    /// Linear while its sub-layer is wrapped. To detach, replace the wrapper by the module it wraps and dispose the wrapper
    /// without disposing that module (<see cref="ModuleWrapper.UnwrapAll{T}"/>). Since SDK 2.9.</summary>
    void ReplaceModule(string path, Func<Module<Tensor, Tensor>, Module<Tensor, Tensor>> wrap) => ReplaceLinear(path, wrap);
#pragma warning restore CS0618

    /// <summary>
    /// Gives a method's own module (adapters, a prompt encoder, prefix parameters) a place in the decoder's module tree, as
    /// the child <paramref name="name"/> (no dots; not a name the decoder uses): <c>train()</c>/<c>eval()</c>, dtype conversions,
    /// parameter counts and disposal of the model then cover it. Used with hook points 2–4, whose hooks are plain objects.
    /// </summary>
    void AttachModule(string name, nn.Module module);
    /// <summary>Takes the module attached as <paramref name="name"/> out of the tree again and returns it; the caller disposes
    /// it.</summary>
    nn.Module DetachModule(string name);

    /// <summary>Hook point 2.</summary>
    IInputEmbeddingHook? InputEmbeddingHook { get; set; }
    /// <summary>Positions left for real tokens: the context minus any virtual tokens the input hook prepends.</summary>
    int UsableContext => Config.Context - (InputEmbeddingHook?.VirtualTokens ?? 0);
    /// <summary>Hook point 3.</summary>
    IKeyValuePrefixProvider? KeyValuePrefix { get; set; }
    /// <summary>Hook point 4: superseded by wrapping the sub-layer itself (<see cref="ReplaceModule"/> at
    /// <see cref="SubLayerPath"/>), as PEFT and AdapterHub do; still honoured.</summary>
#pragma warning disable CS0618 // the obsolete hook's own type
    [Obsolete("Wrap the sub-layer instead: ReplaceModule(SubLayerPath(layer, which), …) with a ModuleWrapper (SDK 2.9).")]
    IBlockOutputHook? BlockOutputHook { get; set; }
#pragma warning restore CS0618

    /// <summary>Token positions read by forward passes so far (padding included): training loops' tokens/s and MFU. Null (the
    /// default) where the decoder does not count them; loops then report throughput in examples only. Since SDK 2.7.</summary>
    long? TokensForwarded => null;
    /// <summary>Sequences started by forward passes so far (a cached continuation is not a new one); null where not counted.
    /// Since SDK 2.7.</summary>
    long? SequencesForwarded => null;
}

/// <summary>Byte-level BPE with GPT-1's special tokens, as plugins see it.</summary>
public interface ITokenizer
{
    /// <summary>Ids run from 0 to this minus one, special tokens included; at most the model's <see cref="GptConfig.Vocab"/>.</summary>
    int VocabSize { get; }
    /// <summary><c>&lt;|endoftext|&gt;</c>: GPT-2's document separator (and its <see cref="SequenceStart"/>).</summary>
    int EndOfText { get; }
    /// <summary>GPT-1's start token (<c>&lt;|start|&gt;</c>), put in front of a task's input.</summary>
    int Start { get; }
    /// <summary>GPT-1's delimiter (<c>&lt;|delim|&gt;</c>) between the texts of a pair or between context and option.</summary>
    int Delimiter { get; }
    /// <summary>GPT-1's extract token (<c>&lt;|extract|&gt;</c>), last in a sequence: a classifier head reads its hidden state.</summary>
    int Extract { get; }
    /// <summary>Fills batches to one length (<c>&lt;|pad|&gt;</c>); masked out, never trained on.</summary>
    int Pad { get; }
    /// <summary>Ids of <paramref name="text"/> as it continues other text, literally: pieces encoded one by one and put
    /// together give the ids of the whole (a space belongs to the piece it starts). No token a sequence starts or ends with.</summary>
    int[] Encode(string text);
    /// <summary>Ids of <paramref name="text"/> where a sequence, or a segment after a special token, starts: SentencePiece's
    /// dummy-prefix form (Llama saw "▁Hello" after &lt;s&gt;); the same as <see cref="Encode"/> for GPT-2. Since SDK 2.3.</summary>
    int[] EncodeStart(string text) => Encode(text);
    /// <summary>The token a sequence starts with in this model's training: its <see cref="BeginningOfSequence"/> where it has one,
    /// else end-of-text (GPT-2's document separator). Since SDK 2.3.</summary>
    int SequenceStart => BeginningOfSequence ?? EndOfText;
    /// <summary>The text of <paramref name="ids"/>, special tokens written as their strings (<c>&lt;|endoftext|&gt;</c>).</summary>
    string Decode(IEnumerable<int> ids);
    /// <summary>The id a whole sequence starts with when the model was trained so (Llama's <c>&lt;s&gt;</c>); null for GPT-2. Since
    /// SDK 2.3.</summary>
    int? BeginningOfSequence => null;
}
