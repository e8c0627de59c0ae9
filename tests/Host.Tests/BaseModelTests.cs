using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>The shipped base model (models/pg-base) is what its README says: same bytes, same held-out losses, and pre-trained on
/// text checked against every evaluation set this repository ships.</summary>
public class BaseModelTests
{
    static string Base => Path.Combine(CliRunner.RepoRoot, "models", "pg-base");
    static string Readme => File.ReadAllText(Path.Combine(Base, "README.md"));

    [Fact]
    public void Its_weights_match_the_checksum_its_README_states()
    {
        var stated = Regex.Match(Readme, @"`model\.safetensors`[^\n]*?SHA-256 `([0-9a-f]{64})`");
        Assert.True(stated.Success, "models/pg-base/README.md states no SHA-256 for model.safetensors");
        using var file = File.OpenRead(Path.Combine(Base, "model.safetensors"));
        Assert.Equal(stated.Groups[1].Value, Convert.ToHexString(SHA256.HashData(file)).ToLowerInvariant());
    }

    [Fact]
    public void Evaluate_lm_reproduces_the_held_out_losses_of_its_README_within_one_percent()
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Base, "heldout", "expected.json")));
        var rows = expected.RootElement.EnumerateArray().ToList();
        Assert.Equal(4, rows.Count);   // one slice of each pre-training corpus's held-out tail
        var corpora = rows.Select(r => Path.Combine(Base, "heldout", r.GetProperty("file").GetString()!)
            + (r.TryGetProperty("lines", out var l) && l.GetBoolean() ? ":lines" : "")).ToArray();
        var run = CliRunner.Run(["evaluate-lm", "--model", Base, "--json", "--precision", "fp32", "--corpus", .. corpora]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var measured = JsonDocument.Parse(run.Stdout);
        var losses = measured.RootElement.EnumerateArray().Select(r => r.GetProperty("loss").GetDouble()).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            double stated = rows[i].GetProperty("loss").GetDouble();
            Assert.InRange(losses[i], stated * 0.99, stated * 1.01);
            // The README's table quotes the same figure.
            Assert.Contains(stated.ToString("F3", CultureInfo.InvariantCulture), Readme);
        }
    }

    [Fact]
    public void Its_corpora_were_checked_against_every_shipped_evaluation_set()
    {
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(Base, "contamination.json")));
        var checkedFiles = report.RootElement.GetProperty("evaluation_files").EnumerateArray().Select(e => e.GetString()).ToHashSet();
        var shipped = Directory.EnumerateFiles(Path.Combine(CliRunner.RepoRoot, "data"), "*", SearchOption.AllDirectories)
            .Where(f => Regex.IsMatch(Path.GetFileName(f), @"(^|[-_.])(dev|val|valid|test)([-_.]|$)") && !f.EndsWith(".md"))
            .Select(f => $"{Path.GetFileName(Path.GetDirectoryName(f))}/{Path.GetFileName(f)}");
        Assert.All(shipped, f => Assert.Contains(f, checkedFiles));
        Assert.Contains("imdb/test.tsv.gz", checkedFiles);
        Assert.True(report.RootElement.GetProperty("evaluation_texts_checked").GetInt32() > 10_000);
    }
}
