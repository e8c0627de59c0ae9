using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>bench method</c> reports what it measured (its figures are ratios for people to read, not timed assertions).</summary>
public class BenchTests
{
    [Fact]
    public void Bench_method_reports_forward_and_step_costs_of_a_mergeable_method()
    {
        var r = CliRunner.Run("bench", "method", "--method", "lora", "--preset", "tiny", "--set", "r=8", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var figures = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(2 * (8 * 32 + 96 * 8),
            figures.GetProperty("trainable_parameters").GetInt64());   // A [8, 32] and B [96, 8] on 2 layers' c_attn
        foreach (var name in new[] { "base_forward_ms", "method_forward_ms", "merged_forward_ms", "full_step_ms", "method_step_ms" })
            Assert.True(figures.GetProperty(name).GetDouble() > 0, name);
    }
}
