using System.Text.Json;
using PluginGpt.Plugins.Tasks;

namespace PluginGpt.Plugins.Tests;

/// <summary>Every row of a data file becomes an example or an error naming file and line: nothing that would silently change
/// the task (a shifted column, an empty text, a new class made of a stray value, rows swallowed by a quote) is accepted.</summary>
public class DataRowTests
{
    static readonly string[] Good = [.. Enumerable.Range(0, 40).Select(i => $"{i % 2}\tsentence number {i} is fine")];

    static TaskData Load(string file, string? labels = null, bool dev = true)
    {
        var options = new Dictionary<string, object> { ["train"] = file, ["columns"] = new { text = "sentence", label = "label" } };
        if (labels is not null) options["labels"] = labels.Split(',');
        if (dev) options["dev"] = file;
        return new ClassificationTask().Load(new TaskContext(JsonSerializer.SerializeToElement(options), Repo.Data, 1));
    }

    static string Write(TempDir dir, string name, params string[] lines)
    {
        var path = dir[name];
        File.WriteAllLines(path, lines);
        return path;
    }

    [Theory]
    [InlineData("1\tgood film\tEXTRA", "3 fields where every row has 2")]
    [InlineData("1", "1 fields where every row has 2")]
    [InlineData("1\t   ", "empty text in column 'sentence'")]
    [InlineData("label\tsentence", "the header row again")]
    [InlineData("\tan unlabelled sentence", "empty label")]
    public void A_corrupt_TSV_row_is_refused_with_file_and_line(string bad, string expected)
    {
        using var dir = new TempDir();
        var file = Write(dir, "train.tsv", ["label\tsentence", .. Good[..20], bad, .. Good[20..]]);
        var e = Assert.Throws<DataException>(() => Load(file));
        Assert.StartsWith($"{file}:22: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_duplicated_header_column_and_an_unclosed_CSV_quote_are_refused()
    {
        using var dir = new TempDir();
        var twice = Write(dir, "twice.tsv", ["sentence\tsentence", .. Good]);
        Assert.Contains("column 'sentence' appears twice", Assert.Throws<DataException>(() => Load(twice)).Message);

        var rows = Good.Select(l => l.Replace('\t', ',')).ToList();
        var csv = Write(dir, "train.csv", ["label,sentence", .. rows[..20], "1,\"an unclosed quote", .. rows[20..]]);
        var e = Assert.Throws<DataException>(() => Load(csv));
        Assert.StartsWith($"{csv}:22: ", e.Message);   // where the quote opens, not where the file ends
        Assert.True(e.Message.Length < 300, e.Message);
    }

    [Fact]
    public void Labels_are_known_before_the_split_so_a_stray_value_is_the_same_error_wherever_it_falls()
    {
        using var dir = new TempDir();
        var file = Write(dir, "train.tsv", ["label\tsentence", .. Good, "positive\ta stray label value"]);
        // With labels given, the stray value is refused; without, it is a class of the whole file (never a dev-only error).
        Assert.Contains("unknown label 'positive'", Assert.Throws<DataException>(() => Load(file, labels: "0,1")).Message);
        var inferred = Load(file, dev: false);
        Assert.Equal(["0", "1", "positive"], inferred.Labels);
    }
}
