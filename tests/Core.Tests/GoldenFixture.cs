using System.Text.Json;

namespace PluginGpt.Core.Tests;

/// <summary>The tiny GPT-2 whose logits and loss PyTorch computed (Fixtures/golden-tiny-gpt2/README.md).</summary>
public sealed class GoldenFixture
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Fixtures", "golden-tiny-gpt2");

    public long[][] InputIds { get; }
    public long[][] Targets { get; }
    public double Loss { get; }
    public double[] LogitsFirstRowFirst8 { get; }
    public double[] LogitsLastRowLast8 { get; }
    public double LogitsSum { get; }
    public double LogitsAbsSum { get; }
    public long TotalParameters { get; }
    public int[] GreedyPrompt { get; }
    public int[] GreedyNext16 { get; }

    public GoldenFixture() : this(Directory) { }

    /// <summary>A fixture of the same layout elsewhere (the Llama fixtures in Fixtures/llama/).</summary>
    public static GoldenFixture From(string directory) => new(directory);

    GoldenFixture(string directory)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "expected.json")));
        var r = doc.RootElement;
        long[][] Matrix(string n) =>
            r.GetProperty(n).EnumerateArray().Select(row => row.EnumerateArray().Select(e => e.GetInt64()).ToArray()).ToArray();
        double[] Vector(string n) => r.GetProperty(n).EnumerateArray().Select(e => e.GetDouble()).ToArray();
        InputIds = Matrix("input_ids");
        Targets = Matrix("targets");
        Loss = r.GetProperty("loss").GetDouble();
        LogitsFirstRowFirst8 = Vector("logits_first_row_first_8");
        LogitsLastRowLast8 = Vector("logits_last_row_last_8");
        LogitsSum = r.GetProperty("logits_sum").GetDouble();
        LogitsAbsSum = r.GetProperty("logits_abs_sum").GetDouble();
        TotalParameters = r.GetProperty("total_parameters").GetInt64();
        GreedyPrompt = Vector("greedy_prompt").Select(d => (int)d).ToArray();
        GreedyNext16 = Vector("greedy_next_16").Select(d => (int)d).ToArray();
    }
}
