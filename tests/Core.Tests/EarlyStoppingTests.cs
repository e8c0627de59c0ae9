using PluginGpt.Core.Training;

namespace PluginGpt.Core.Tests;

public class EarlyStoppingTests
{
    [Fact]
    public void Stops_after_patience_evaluations_without_an_improvement_beyond_min_delta_and_keeps_the_highest_score()
    {
        var stopping = new EarlyStopping(new EarlyStoppingSpec { Patience = 2, MinDelta = 0.01 });
        double[] scores = [0.50, 0.60, 0.605, 0.62, 0.615, 0.619, 0.70];
        bool[] best = [true, true, true, true, false, false];
        bool[] stop = [false, false, false, false, false, true];   // 0.615 and 0.619 are not > 0.62 + 0.01
        for (int i = 0; i < stop.Length; i++)
        {
            stopping.Observe(scores[i]);
            Assert.Equal(best[i], stopping.LastWasBest);   // 0.605 is kept as best, though too small a gain for patience
            Assert.Equal(stop[i], stopping.ShouldStop);
        }
    }

    [Fact]
    public void Without_a_spec_it_only_tracks_the_best()
    {
        var tracking = new EarlyStopping(null);
        foreach (var score in new[] { 0.3, 0.2, 0.1, 0.05 }) tracking.Observe(score);
        Assert.False(tracking.ShouldStop);
        Assert.False(tracking.LastWasBest);
    }
}
