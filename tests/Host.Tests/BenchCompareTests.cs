using System.Text.Json;
using PluginGpt.Host.Bench;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>bench compare</c> (commands alternate, ratios per round) and the benchmark rows of the results database.</summary>
public class BenchCompareTests
{
    [Fact]
    public void A_figure_is_read_from_indented_json_or_the_last_json_line_that_has_it()
    {
        Assert.Equal(12.5, BenchComparison.ReadFigure("{\n  \"preset\": \"small\",\n  \"tok\": 12.5\n}\n", "tok"));
        Assert.Equal(3, BenchComparison.ReadFigure("warming up\n{\"tok\": 1}\nnoise\n{\"tok\": 3, \"peak\": 9}\n", "tok"));
        Assert.Null(BenchComparison.ReadFigure("{\"tok\": \"fast\"}\n", "tok"));
        Assert.Null(BenchComparison.ReadFigure("no json here", "tok"));
    }

    [Fact]
    public void Commands_alternate_and_each_rounds_ratio_is_reported_and_recorded()
    {
        using var dir = new TempDir();
        string order = dir["order.txt"], db = dir["results.db"];
        // B's figure is its round number × 10, A's is 4: ratios 2.5, 5, 7.5.
        var a = $"a|tok|echo a >> {order}; echo '{{\"tok\": 4}}'";
        var b = $"b|tok|echo b >> {order}; echo \"{{\\\"tok\\\": $(( $(grep -c b {order}) * 10 ))}}\"";
        var r = CliRunner.Run("--results", db, "bench", "compare", "--rounds", "3", "--run", a, "--run", b, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(["a", "b", "a", "b", "a", "b"], File.ReadAllLines(order));
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(2.5, figures.GetProperty("b_over_a_min").GetDouble());
        Assert.Equal(5, figures.GetProperty("b_over_a_median").GetDouble());
        Assert.Equal(7.5, figures.GetProperty("b_over_a_max").GetDouble());
        Assert.Equal(20, figures.GetProperty("b_tok_median").GetDouble());

        var listed = CliRunner.Run("--results", db, "results", "--bench", "--json");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        var row = Assert.Single(JsonDocument.Parse(listed.Stdout).RootElement.EnumerateArray());
        Assert.Equal("compare", row.GetProperty("command").GetString());
        Assert.Equal(Environment.ProcessorCount, row.GetProperty("cores").GetInt32());
        Assert.Equal(5, row.GetProperty("figures").GetProperty("b_over_a_median").GetDouble());
        Assert.False(string.IsNullOrEmpty(row.GetProperty("git_commit").GetString()));   // the tests run inside the repository
    }

    [Fact]
    public void The_console_shows_one_row_per_command_with_its_ratio_to_the_first()
    {
        using var dir = new TempDir();
        string order = dir["order.txt"];
        var a = $"a|tok|echo '{{\"tok\": 4}}'";
        // A label with Spectre markup's brackets is printed as it is.
        var b = $"ours [bf16]|tok|echo b >> {order}; echo \"{{\\\"tok\\\": $(( $(grep -c b {order}) * 10 ))}}\"";
        var r = CliRunner.Run("--results", "none", "bench", "compare", "--rounds", "3", "--run", a, "--run", b);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Matches(@"4\s*[│|]\s*4\s*[│|]\s*4\s*[│|]\s*1\.000×", Assert.Single(lines, l => l.Contains(" a ")));
        Assert.Matches(@"10\s*[│|]\s*20\s*[│|]\s*30\s*[│|]\s*5\.000× \[2\.500–7\.500\]",
            Assert.Single(lines, l => l.Contains("ours [bf16]")));
    }

    [Fact]
    public void A_first_figure_of_zero_gives_no_ratio_instead_of_NaN()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("--results", dir["results.db"], "bench", "compare", "--rounds", "2",
            "--run", "zero|tok|echo '{\"tok\": 0}'", "--run", "b|tok|echo '{\"tok\": 3}'");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("n/a (the first figure was 0)", Assert.Single(r.Stdout.Split('\n'), l => l.Contains(" b ")));
        var json = CliRunner.Run("--results", "none", "bench", "compare", "--rounds", "1",
            "--run", "zero|tok|echo '{\"tok\": 0}'", "--run", "b|tok|echo '{\"tok\": 3}'", "--json");
        var figures = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(3, figures.GetProperty("b_tok_median").GetDouble());
        Assert.False(figures.TryGetProperty("b_over_zero_median", out _));
    }

    [Fact]
    public void A_bench_train_result_is_recorded_with_its_precision_and_machine()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("--results", dir["results.db"], "bench", "train", "--preset", "tiny", "--steps", "1",
            "--batch-size", "2", "--block-size", "8", "--precision", "fp32", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var listed = CliRunner.Run("--results", dir["results.db"], "results", "--bench", "--md");
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        var line = Assert.Single(listed.Stdout.Split('\n'), l => l.Contains("| train |"));
        Assert.Contains("| fp32 |", line);
        Assert.Contains("fp32_train_tokens_per_s", line);
        Assert.Contains("--preset tiny", line);
    }

    [Fact]
    public void A_failing_command_ends_the_comparison_with_one_line_naming_it()
    {
        var r = CliRunner.Run("--results", "none", "bench", "compare", "--run", "ok|tok|echo '{\"tok\": 1}'",
            "--run", "broken|tok|echo 'no such peer' >&2; exit 3");
        Assert.Equal(2, r.ExitCode);
        var last = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        Assert.Equal("error: --run broken: the command exited with 3: no such peer", last);
        Assert.DoesNotContain("   at ", r.Stderr);
        var missing = CliRunner.Run("--results", "none", "bench", "compare", "--run", "ok|tok|echo '{\"tok\": 1}'",
            "--run", "other|speed|echo '{\"tok\": 2}'");
        Assert.Contains("--run other: its output holds no JSON object with a number 'speed'", missing.Stderr);
        var malformed = CliRunner.Run("--results", "none", "bench", "compare", "--run", "only-a-label", "--run", "x|y|true");
        Assert.Contains("expected LABEL|FIGURE|COMMAND", malformed.Stderr);
    }
}
