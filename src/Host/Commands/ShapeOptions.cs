using System.CommandLine;
using PluginGpt.Core.Training;

namespace PluginGpt.Host.Commands;

/// <summary><c>--layers --dim --heads --kv-heads --ffn --context --vocab-size</c>: changes to a preset's shape.</summary>
public sealed class ShapeOptions
{
    readonly Option<int?> layers = new("--layers") { Description = "blocks (default: the preset's)" };
    readonly Option<int?> dim = new("--dim") { Description = "model width (Llama presets: SwiGLU width follows as 8/3·d)" };
    readonly Option<int?> heads = new("--heads") { Description = "attention heads" };
    readonly Option<int?> kvHeads = new("--kv-heads") { Description = "key-value heads (Llama family; must divide --heads)" };
    readonly Option<int?> ffn = new("--ffn") { Description = "feed-forward width" };
    readonly Option<int?> context = new("--context") { Description = "positions" };
    readonly Option<int?> vocab = new("--vocab-size") { Description = "BPE vocabulary to train (with --tokenizer bpe)" };

    public IEnumerable<Option> All => [layers, dim, heads, kvHeads, ffn, context, vocab];

    public void AddTo(Command command) { foreach (var option in All) command.Options.Add(option); }

    /// <summary>The shape given on the command line, or null when no shape option was given.</summary>
    public ModelShape? Given(ParseResult parse) => All.Any(o => parse.GetResult(o) is { Implicit: false })
        ? new ModelShape
        {
            Layers = parse.GetValue(layers),
            ModelDim = parse.GetValue(dim),
            Heads = parse.GetValue(heads),
            KeyValueHeads = parse.GetValue(kvHeads),
            FeedForwardDim = parse.GetValue(ffn),
            Context = parse.GetValue(context),
            Vocab = parse.GetValue(vocab),
        }
        : null;
}
