using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Each shipped base model (models/pg-base and its continuation models/pg-base-long) is what its README says: same bytes,
/// same held-out losses, and pre-trained on text checked against every evaluation set this repository ships.</summary>
public class BaseModelTests
{
    public static TheoryData<string> Models => new() { "pg-base", "pg-base-long" };

    static string Folder(string model) => Path.Combine(CliRunner.RepoRoot, "models", model);
    static string Readme(string model) => File.ReadAllText(Path.Combine(Folder(model), "README.md"));

    [Theory]
    [MemberData(nameof(Models))]
    public void Its_weights_match_the_checksum_its_README_states(string model)
    {
        var stated = Regex.Match(Readme(model), @"`model\.safetensors`[^\n]*?SHA-256 `([0-9a-f]{64})`");
        Assert.True(stated.Success, $"models/{model}/README.md states no SHA-256 for model.safetensors");
        using var file = File.OpenRead(Path.Combine(Folder(model), "model.safetensors"));
        Assert.Equal(stated.Groups[1].Value, Convert.ToHexString(SHA256.HashData(file)).ToLowerInvariant());
    }

    /// <summary>The slices are pg-base's (its corpora's held-out tails, which its continuation held out too); each model states
    /// its own losses on them in heldout/expected.json.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Evaluate_lm_reproduces_the_held_out_losses_of_its_README_within_one_percent(string model)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(model), "heldout", "expected.json")));
        var rows = expected.RootElement.EnumerateArray().ToList();
        Assert.Equal(4, rows.Count);   // one slice of each pre-training corpus's held-out tail
        var corpora = rows.Select(r => Path.Combine(Folder("pg-base"), "heldout", r.GetProperty("file").GetString()!)
            + (r.TryGetProperty("lines", out var l) && l.GetBoolean() ? ":lines" : "")).ToArray();
        var run = CliRunner.Run(["evaluate-lm", "--model", Folder(model), "--json", "--precision", "fp32", "--corpus", .. corpora]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var measured = JsonDocument.Parse(run.Stdout);
        var losses = measured.RootElement.EnumerateArray().Select(r => r.GetProperty("loss").GetDouble()).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            double stated = rows[i].GetProperty("loss").GetDouble();
            Assert.InRange(losses[i], stated * 0.99, stated * 1.01);
            // The README's table quotes the same figure.
            Assert.Contains(stated.ToString("F3", CultureInfo.InvariantCulture), Readme(model));
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Its_corpora_were_checked_against_every_shipped_evaluation_set(string model)
    {
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(model), "contamination.json")));
        var checkedFiles = report.RootElement.GetProperty("evaluation_files").EnumerateArray().Select(e => e.GetString()).ToHashSet();
        var shipped = Directory.EnumerateFiles(Path.Combine(CliRunner.RepoRoot, "data"), "*", SearchOption.AllDirectories)
            .Where(f => Regex.IsMatch(Path.GetFileName(f), @"(^|[-_.])(dev|val|valid|test)([-_.]|$)") && !f.EndsWith(".md"))
            .Select(f => $"{Path.GetFileName(Path.GetDirectoryName(f))}/{Path.GetFileName(f)}");
        Assert.All(shipped, f => Assert.Contains(f, checkedFiles));
        Assert.Contains("imdb/test.tsv.gz", checkedFiles);
        Assert.True(report.RootElement.GetProperty("evaluation_texts_checked").GetInt32() > 10_000);
    }
}
