using PluginGpt.Core.Tokenization;
using PluginGpt.Plugins.Baselines;

namespace PluginGpt.Plugins.Tests;

public class InputTransformTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));

    [Fact]
    public void Single_text_is_start_text_extract()
    {
        var seq = Assert.Single(InputTransforms.Sequences(new Example(["a good film"]), InputFormat.Single, Tok, 64));
        Assert.Equal([Tok.Start, .. Tok.Encode("a good film"), Tok.Extract], seq);
    }

    [Fact]
    public void Similarity_yields_both_orders()
    {
        var seqs = InputTransforms.Sequences(new Example(["one", "two"]), InputFormat.SymmetricPair, Tok, 64);
        Assert.Equal([Tok.Start, .. Tok.Encode("one"), Tok.Delimiter, .. Tok.Encode("two"), Tok.Extract], seqs[0]);
        Assert.Equal([Tok.Start, .. Tok.Encode("two"), Tok.Delimiter, .. Tok.Encode("one"), Tok.Extract], seqs[1]);
    }

    [Fact]
    public void Multiple_choice_yields_one_sequence_per_option()
    {
        var seqs = InputTransforms.Sequences(new Example(["q"], Label: 1, Options: ["x", "y", "z"]), InputFormat.MultipleChoice, Tok, 64);
        Assert.Equal(3, seqs.Count);
        Assert.Equal([Tok.Start, .. Tok.Encode("q"), Tok.Delimiter, .. Tok.Encode("z"), Tok.Extract], seqs[2]);
    }

    [Fact]
    public void Truncation_trims_the_longest_segment_and_keeps_the_extract_token()
    {
        var longText = string.Join(" ", Enumerable.Repeat("words", 100));
        var seq = Assert.Single(InputTransforms.Sequences(new Example([longText, "short"]), InputFormat.Pair, Tok, 20));
        Assert.Equal(20, seq.Length);
        Assert.Equal(Tok.Extract, seq[^1]);
        Assert.Equal([Tok.Delimiter, .. Tok.Encode("short"), Tok.Extract], seq[^(Tok.Encode("short").Length + 2)..]);
    }
}
