using PluginGpt.Core.Model;
using TorchSharp;

namespace PluginGpt.Core.Tests;

/// <summary>Batch widths rounded to a few buckets (SDK 2.10): one tensor size per longest sequence fragmented the heap.</summary>
public class TokenBatchTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(9, 16)]
    [InlineData(32, 32)]
    [InlineData(33, 40)]
    [InlineData(64, 64)]
    [InlineData(65, 80)]
    [InlineData(100, 112)]
    [InlineData(129, 160)]
    [InlineData(250, 256)]
    [InlineData(1000, 1024)]
    public void A_width_rounds_up_to_its_bucket(int width, int bucket) => Assert.Equal(bucket, TokenBatch.BucketWidth(width, 4096));

    [Fact]
    public void Buckets_are_few_at_most_a_quarter_above_the_width_past_32_and_never_past_the_context()
    {
        Assert.Equal(16, Enumerable.Range(1, 256).Select(w => TokenBatch.BucketWidth(w, 256)).Distinct().Count());
        for (int w = 33; w <= 4096; w++) Assert.InRange(TokenBatch.BucketWidth(w, 1 << 20), w, w * 1.25);
        Assert.Equal(100, TokenBatch.BucketWidth(100, 100));   // a context that is no bucket caps it
        Assert.Equal(70, TokenBatch.BucketWidth(70, 64));      // already past the context: the model's own check reports it
    }

    [Fact]
    public void A_batch_for_a_model_is_padded_to_its_bucket_without_changing_the_real_positions()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.manual_seed(0);
        using var model = new Decoder(Presets.Tiny);
        model.eval();
        int[][] sequences = [[5, 17, 300], [42, 7, 99, 256, 1, 3, 8, 9, 10]];   // longest 9: bucket 16
        var (ids, lengths) = TokenBatch.RightPadded(sequences, 0, model);
        Assert.Equal([2L, 16L], ids.shape);
        Assert.Equal([3L, 9L], lengths.data<long>().ToArray());
        var (tight, _) = TokenBatch.RightPadded(sequences, 0, model.Device);
        Assert.Equal(9, tight.shape[1]);
        Assert.True(model.Forward(ids).narrow(1, 0, 9).allclose(model.Forward(tight), rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Greedy_answers_run_on_bucketed_widths()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(0);
        using var model = new Decoder(Presets.Tiny);
        model.eval();
        long before = model.TokensForwarded;
        TokenBatch.Greedy(model, [[1, 2, 3]], 1, stopToken: -1, pad: 0, room: 64);
        Assert.Equal(8, model.TokensForwarded - before);   // one pass over the 3-token prompt, padded to 8
    }
}
