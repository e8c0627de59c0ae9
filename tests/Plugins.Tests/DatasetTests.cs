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

public class UnlabelledPoolTests
{
    static TaskData Load(ITaskPlugin task, object options) =>
        task.Load(new TaskContext(System.Text.Json.JsonSerializer.SerializeToElement(options), Repo.Data, 42));

    [Fact]
    public void IMDB_is_a_balanced_sample_of_the_official_splits_with_its_unsup_reviews_as_pool()
    {
        var d = Load(new ClassificationTask(), new { dataset = "imdb", max_train = 32, balance_train = true, max_unlabelled = 100 });
        Assert.Equal(["negative", "positive"], d.Labels);
        Assert.Equal((32, 2000, 100), (d.Train.Count, d.Dev.Count, d.Unlabelled!.Count));
        Assert.Equal(1000, d.Dev.Count(e => e.Label == 1));
        Assert.Equal(16, d.Train.Count(e => e.Label == 1));
        // The pool is unsup.txt's reviews (no labels), not training rows.
        var lines = PluginGpt.Plugins.Tasks.Data.TableReader.ReadLines(Path.Combine(Repo.Data, "imdb", "unsup.txt.gz"));
        Assert.Equal(5000, lines.Count);
        var unsup = lines.Select(l => l.Text).ToHashSet();
        Assert.All(d.Unlabelled, e => { Assert.Equal(-1, e.Label); Assert.Contains(e.Segments[0], unsup); });
        Assert.Equal(5000, Load(new ClassificationTask(), new { dataset = "imdb" }).Train.Count);
        // imdb-all: the whole official train split, the same test reviews and pool.
        var all = Load(new ClassificationTask(), new { dataset = "imdb-all", max_unlabelled = 100 });
        Assert.Equal((25000, 12500), (all.Train.Count, all.Train.Count(e => e.Label == 1)));
        Assert.Equal(d.Dev.Select(e => e.Segments[0]), all.Dev.Select(e => e.Segments[0]));
        Assert.Equal(d.Unlabelled.Select(e => e.Segments[0]), all.Unlabelled!.Select(e => e.Segments[0]));
    }

    [Fact]
    public void A_pool_file_of_its_own_needs_no_labels_and_its_label_column_is_never_read()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["train.tsv"], "text\tlabel\ngood\tpos\nbad\tneg\n");
        File.WriteAllText(dir["pool.txt"], "first unlabelled text\n\nsecond one\n");
        File.WriteAllText(dir["pool.tsv"], "text\tlabel\nthird\t???\nfourth\t\n");
        var fromText = Load(new ClassificationTask(), new { train = dir["train.tsv"], unlabelled = dir["pool.txt"] });
        Assert.Equal(["first unlabelled text", "second one"], fromText.Unlabelled!.Select(e => e.Segments[0]).Order());
        var fromTable = Load(new ClassificationTask(), new { train = dir["train.tsv"], unlabelled = dir["pool.tsv"], max_unlabelled = 1 });
        Assert.Single(fromTable.Unlabelled!);
        Assert.Contains(fromTable.Unlabelled![0].Segments[0], new[] { "third", "fourth" });
        Assert.Equal(-1, fromTable.Unlabelled![0].Label);
    }

    [Fact]
    public void A_text_pool_for_a_pair_task_is_refused_naming_the_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["pool.txt"], "a line\n");
        var options = new
        {
            train = Path.Combine(Repo.Data, "rte", "train.tsv"),
            unlabelled = dir["pool.txt"],
            columns = new Dictionary<string, string> { ["text_a"] = "sentence1", ["text_b"] = "sentence2", ["label"] = "label" },
        };
        var e = Assert.Throws<OptionsException>(() => Load(new NliTask(), options));
        Assert.StartsWith("task.unlabelled", e.Message);
    }

    [Fact]
    public void COPA_pool_is_FewGLUEs_unlabelled_file()
    {
        var d = Load(new MultipleChoiceTask(), new { dataset = "copa", max_unlabelled = 400 });
        Assert.All(d.Unlabelled!, e => { Assert.Equal(2, e.Options!.Count); Assert.Equal(-1, e.Label); });
        // FewGLUE's pool is drawn from the same 500 questions this split's dev set comes from: none of the dev ones enter it.
        var dev = d.Dev.Select(e => e.Segments[0]).ToHashSet();
        Assert.DoesNotContain(d.Unlabelled!, e => dev.Contains(e.Segments[0]));
        Assert.InRange(d.Unlabelled!.Count, 250, 399);
    }
}
