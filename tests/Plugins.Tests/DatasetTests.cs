using PluginGpt.Plugins.Tasks;

namespace PluginGpt.Plugins.Tests;

public class DatasetTests
{
    static TaskData Load(ITaskPlugin task, string dataset) => task.LoadBuiltIn(dataset);

    [Theory]
    [InlineData("sst2", 67349, 872, 2)]
    [InlineData("agnews", 6840, 760, 4)]
    public void Classification_sets_load_whole(string name, int train, int dev, int labels)
    {
        var d = Load(new ClassificationTask(), name);
        Assert.Equal((train, dev, labels), (d.Train.Count, d.Dev.Count, d.Labels.Count));
        Assert.All(d.Train.Take(100), e => Assert.InRange(e.Label, 0, labels - 1));
    }

    [Fact]
    public void SST2_dev_has_428_negative_and_444_positive()
    {
        var d = Load(new ClassificationTask(), "sst2");
        Assert.Equal(["negative", "positive"], d.Labels);
        Assert.Equal(428, d.Dev.Count(e => e.Label == 0));
        Assert.Equal(444, d.Dev.Count(e => e.Label == 1));
    }

    [Fact]
    public void AG_News_CSV_quotes_and_title_plus_description()
    {
        var d = Load(new ClassificationTask(), "agnews");
        Assert.Contains(d.Train.Concat(d.Dev),
            e => e.Segments[0].StartsWith("Fears for T N pension after talks Unions representing workers"));
    }

    [Theory]
    [InlineData("rte", 2490, 277, 2)]
    [InlineData("snli", 7874, 1968, 3)]
    [InlineData("cb", 32, 56, 3)]
    public void NLI_sets_are_premise_hypothesis_pairs(string name, int train, int dev, int labels)
    {
        var d = Load(new NliTask(), name);
        Assert.Equal((train, dev, labels, InputFormat.Pair), (d.Train.Count, d.Dev.Count, d.Labels.Count, d.Format));
        Assert.All(d.Dev.Take(20), e => Assert.Equal(2, e.Segments.Count));
    }

    [Fact]
    public void STSB_is_a_symmetric_regression()
    {
        var d = Load(new SimilarityTask(), "stsb");
        Assert.Equal((5749, 1500, true, "pearson"), (d.Train.Count, d.Dev.Count, d.IsRegression, d.PrimaryMetric));
        Assert.Equal(5.0, d.Train.First(e => e.Segments[0] == "A plane is taking off.").Target);
        Assert.Equal(1, d.OutputSize);
    }

    [Theory]
    [InlineData("copa", 400, 100, 2)]
    [InlineData("csqa", 977, 244, 5)]
    public void Multiple_choice_sets_have_options_and_a_right_one(string name, int train, int dev, int options)
    {
        var d = Load(new MultipleChoiceTask(), name);
        Assert.Equal((train, dev), (d.Train.Count, d.Dev.Count));
        Assert.All(d.Train, e => { Assert.Equal(options, e.Options!.Count); Assert.InRange(e.Label, 0, options - 1); });
    }

    [Fact]
    public void COPA_context_carries_its_connective()
    {
        var d = Load(new MultipleChoiceTask(), "copa");
        Assert.Contains(d.Train.Concat(d.Dev),
            e => e.Segments[0] == "My body cast a shadow over the grass because" && e.Options![0] == "The sun was rising.");
    }

    [Fact]
    public void A_dataset_of_another_family_is_refused()
    {
        var e = Assert.Throws<OptionsException>(() => Load(new ClassificationTask(), "rte"));
        Assert.Contains("\"nli\"", e.Message);
    }
}
