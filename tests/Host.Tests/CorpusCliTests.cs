using System.IO.Compression;
using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Pre-training on a corpus mixture through the command line, and the tools around it: evaluate-lm, convert dtype,
/// compare-pretraining, tokenizer stats.</summary>
public class CorpusCliTests
{
    static string Data(params string[] parts) => Path.Combine([CliRunner.RepoRoot, "data", .. parts]);

    static string Pretrain(TempDir dir, string name, params string[] extra)
    {
        var shakespeare = dir["shakespeare.txt"];
        if (!File.Exists(shakespeare))
        {
            File.WriteAllText(shakespeare, File.ReadAllText(Data("corpus", "tinyshakespeare.txt"))[..40_000]);
            using var gzip = new GZipStream(File.Create(dir["kjv.txt.gz"]), CompressionLevel.Fastest);
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(File.ReadAllText(Data("corpus", "kjv.txt"))[..40_000]));
        }
        var r = CliRunner.Run(["pretrain", "--preset", "llama-tiny", "--corpus", shakespeare + ":3", dir["kjv.txt.gz"] + ":1:lines",
            "--out", dir[name], "--max-steps", "4", "--batch-size", "2", "--eval-interval", "2", "--eval-batches", "1",
            "--precision", "fp32", .. extra]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return dir[name];
    }

    [Fact]
    public void A_mixture_run_reports_each_corpus_and_evaluate_lm_scores_its_model_the_same_every_time()
    {
        using var dir = new TempDir();
        var run = Pretrain(dir, "run");
        var table = File.ReadAllText(Path.Combine(run, "loss.md"));
        Assert.Contains("shakespeare", table);
        Assert.Contains("kjv", table);
        Assert.True(File.Exists(Path.Combine(run, "contamination.json")));

        string[] evaluate = ["evaluate-lm", "--model", run, "--corpus", dir["shakespeare.txt"], "--json"];
        var first = CliRunner.Run(evaluate);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal(first.Stdout, CliRunner.Run(evaluate).Stdout);
        var result = JsonDocument.Parse(first.Stdout).RootElement[0];
        Assert.InRange(result.GetProperty("loss").GetDouble(), 0.1, Math.Log(512) + 1);
        Assert.True(result.GetProperty("tokens").GetInt64() > 1000);

        // The same weights in bf16: half the bytes, the same loss within 1 %.
        var half = CliRunner.Run("convert", "dtype", run, "--to", "bf16", "--out", dir["bf16"]);
        Assert.True(half.ExitCode == 0, half.Stderr);
        Assert.True(new FileInfo(dir["bf16/model.safetensors"]).Length < 0.6 * new FileInfo(Path.Combine(run, "model.safetensors")).Length);
        var bf16 = JsonDocument.Parse(CliRunner.Run("evaluate-lm", "--model", dir["bf16"], "--corpus", dir["shakespeare.txt"], "--json")
            .Stdout).RootElement[0].GetProperty("loss").GetDouble();
        Assert.InRange(bf16, result.GetProperty("loss").GetDouble() * 0.99, result.GetProperty("loss").GetDouble() * 1.01);
    }

    [Fact]
    public void Compare_pretraining_draws_and_tabulates_every_run()
    {
        using var dir = new TempDir();
        var a = Pretrain(dir, "a");
        var b = Pretrain(dir, "b", "--layers", "1", "--dim", "64", "--heads", "4", "--kv-heads", "2");
        var r = CliRunner.Run("compare-pretraining", a, b, "--out", dir["cmp"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var md = File.ReadAllText(dir["cmp/pretrain-comparison.md"]);
        Assert.Contains("llama L2 d32", md);
        Assert.Contains("llama L1 d64", md);
        Assert.True(new FileInfo(dir["cmp/pretrain-comparison.png"]).Length > 1000);
    }

    [Fact]
    public void Tokenizer_stats_prints_bytes_per_token_per_corpus()
    {
        var r = CliRunner.Run("tokenizer", "stats", "--tokenizer", Data("tokenizers", "en-4k"), "--corpus", Data("sst2", "dev.tsv"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"sst2/dev: [\d,]+ bytes, [\d,]+ tokens, \d\.\d{3} bytes/token", r.Stdout);
    }

    [Theory]
    [InlineData("missing.txt:0.5", "missing.txt")]
    [InlineData("x.txt:-1", "weight")]
    public void A_bad_corpus_spec_is_one_line(string spec, string named)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("pretrain", "--preset", "tiny", "--corpus", dir[spec], "--out", dir["run"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(named, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
