using PluginGpt.Core.Tokenization;

namespace PluginGpt.Core.Tests;

public class MemoizedTokenizerTests
{
    [Fact]
    public void Cached_ids_equal_fresh_ones_for_both_forms_and_callers_cannot_change_the_cache()
    {
        var fresh = ModelTokenizer.Load(RepoPaths.Data("tokenizers", "en-4k"));
        var once = new MemoizedTokenizer(fresh);
        string[] texts = ["a fine film", " and a dull one", "a fine film", "ünïcödé — dashes", ""];
        foreach (var text in texts.Concat(texts))
        {
            Assert.Equal(fresh.Encode(text), once.Encode(text));
            Assert.Equal(fresh.EncodeStart(text), once.EncodeStart(text));
        }
        Assert.Equal(2 * texts.Distinct().Count(), once.Count);   // each distinct text encoded once per form
        var ids = once.Encode("a fine film");
        ids[0] = -1;
        Assert.Equal(fresh.Encode("a fine film"), once.Encode("a fine film"));
        Assert.Equal((fresh.Start, fresh.Delimiter, fresh.Extract, fresh.Pad, fresh.SequenceStart),
            (once.Start, once.Delimiter, once.Extract, once.Pad, once.SequenceStart));
    }
}
