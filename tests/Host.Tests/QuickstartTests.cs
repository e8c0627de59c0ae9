using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

public class QuickstartTests
{
    [Fact]
    public void Quickstart_compares_every_method_and_reuses_its_pretrained_model()
    {
        using var dir = new TempDir();
        var mini = Path.Combine(CliRunner.RepoRoot, "tests", "Host.Tests", "Experiments", "quickstart-mini");
        var first = CliRunner.Run("quickstart", "--out", dir.Path, "--pretrain-steps", "3", "--experiments", mini);
        Assert.True(first.ExitCode == 0, first.Stderr + first.Stdout);
        var rows = JsonDocument.Parse(File.ReadAllText(dir["results.json"])).RootElement.EnumerateArray().ToList();
        Assert.Equal(["full", "probe", "lora", "in-context", "majority-class"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.All(rows, r => Assert.InRange(r.GetProperty("value").GetDouble(), 0, 1));
        Assert.Equal(0,
            rows.Single(r => r.GetProperty("method").GetString() == "in-context").GetProperty("trainableParameters").GetInt64());
        Assert.True(rows.Single(r => r.GetProperty("method").GetString() == "lora").GetProperty("trainableParameters").GetInt64()
                  < rows.Single(r => r.GetProperty("method").GetString() == "full").GetProperty("trainableParameters").GetInt64() / 50);
        Assert.Contains("| majority-class |", File.ReadAllText(dir["results.md"]));
        // What training cost in memory is in the table: measured for the methods that train, not for in-context.
        Assert.True(rows.Single(r => r.GetProperty("method").GetString() == "full").GetProperty("trainingMemoryMb").GetDouble() > 0);
        Assert.False(rows.Single(r => r.GetProperty("method").GetString() == "in-context").TryGetProperty("trainingMemoryMb", out _));
        Assert.Contains("training memory (MiB)", File.ReadAllText(dir["results.md"]));
        Assert.True(new FileInfo(dir["results.png"]).Length > 1000);

        var second = CliRunner.Run("quickstart", "--out", dir.Path, "--pretrain-steps", "3", "--experiments", mini);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("reusing the pre-trained model", second.Stdout);
    }
}
