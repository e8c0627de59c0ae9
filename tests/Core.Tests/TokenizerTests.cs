using PluginGpt.Core.Tokenization;

namespace PluginGpt.Core.Tests;

public class TokenizerTests
{
    static readonly GptTokenizer Gpt2 = GptTokenizer.Load(RepoPaths.Data("tokenizers", "gpt2"));
    const string Multilingual = "Hello world! 你好，世界 🤖🎉 naïve café —  two  spaces\n\ttab\r\n";

    [Fact]
    public void GPT2_files_give_GPT2s_ids()
    {
        Assert.Equal(new[] { 15496, 995 }, Gpt2.Encode("Hello world"));
        Assert.Equal(50256, Gpt2.EndOfText);
        Assert.Equal(new[] { 15496, 995, 50256 }, Gpt2.Encode("Hello world<|endoftext|>"));
    }

    [Fact]
    public void GPT2_adds_the_missing_special_tokens_after_its_vocabulary()
    {
        Assert.Equal(50261, Gpt2.VocabSize);
        Assert.Equal(new[] { 50257, 50258, 50259, 50260 }, new[] { Gpt2.Start, Gpt2.Delimiter, Gpt2.Extract, Gpt2.Pad });
        var ids = Gpt2.Encode("<|start|>a<|delim|>b<|extract|>");
        Assert.Equal(Gpt2.Start, ids[0]);
        Assert.Equal(Gpt2.Extract, ids[^1]);
        Assert.Equal("<|start|>a<|delim|>b<|extract|>", Gpt2.Decode(ids));
    }

    [Theory]
    [InlineData(Multilingual)]
    [InlineData("")]
    [InlineData("\u0000\u0001 control \uFFFD")]
    public void GPT2_round_trips_any_text(string text) => Assert.Equal(text, Gpt2.Decode(Gpt2.Encode(text)));

    [Fact]
    public void Trained_BPE_reaches_the_asked_size_round_trips_and_reloads_identically()
    {
        using var dir = new TempDir();
        var corpus = File.ReadAllText(RepoPaths.Data("corpus", "tinyshakespeare.txt"))[..200_000];
        var trained = BpeTrainer.Train([corpus], 600, dir.Path);
        Assert.Equal(600, trained.VocabSize);
        Assert.Equal(Multilingual, trained.Decode(trained.Encode(Multilingual)));   // bytes cover text never seen

        var sample = corpus[..5000];
        var ids = trained.Encode(sample);
        Assert.True(ids.Length < System.Text.Encoding.UTF8.GetByteCount(sample) / 2,
            $"merges should at least halve the length, got {ids.Length} tokens");
        Assert.Equal(sample, trained.Decode(ids));

        var reloaded = GptTokenizer.Load(dir.Path);
        Assert.Equal(ids, reloaded.Encode(sample));
        Assert.Equal(trained.Extract, reloaded.Extract);
        Assert.Equal(new[] { trained.Start }, trained.Encode("<|start|>"));
    }

    [Fact]
    public void Training_is_deterministic()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var corpus = File.ReadAllText(RepoPaths.Data("corpus", "sst2-sentences.txt"))[..50_000];
        BpeTrainer.Train([corpus], 400, a.Path);
        BpeTrainer.Train([corpus], 400, b.Path);
        Assert.Equal(File.ReadAllText(a["merges.txt"]), File.ReadAllText(b["merges.txt"]));
    }
}

public class Gpt2OracleTests
{
    [Fact]
    public void Shipped_GPT2_files_encode_exactly_as_Microsofts_packaged_GPT2_on_real_text()
    {
        var ours = GptTokenizer.Load(RepoPaths.Data("tokenizers", "gpt2"));
        var oracle = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt2");
        var text = File.ReadAllText(RepoPaths.Data("corpus", "tinyshakespeare.txt"))[..300_000]
            + File.ReadAllText(RepoPaths.Data("corpus", "wikitext-2.valid.tokens.txt"))[..300_000]
            + "\t\ttabs   and    spaces 你好 🤖 <|endoftext|>";
        Assert.Equal(oracle.EncodeToIds(text), ours.Encode(text));
    }
}
