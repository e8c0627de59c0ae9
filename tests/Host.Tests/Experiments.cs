namespace PluginGpt.Host.Tests;

/// <summary>Small experiment files for tests: tiny model, 4k BPE, a few dozen real examples.</summary>
public static class Experiments
{
    public static string Tiny => Path.Combine(CliRunner.RepoRoot, "tests", "Host.Tests", "Experiments", "tiny-sst2.json");

    /// <summary>Writes an experiment for <paramref name="task"/> on shipped data into <paramref name="dir"/> and returns its
    /// path.</summary>
    public static string Write(TempDir dir, string task, string dataset, string extra = "")
    {
        var path = dir[$"{task}.json"];
        File.WriteAllText(path, $$"""
        {
          "name": "test-{{task}}",
          "model": { "preset": "tiny", "tokenizer": "{{Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k")}}" },
          "method": { "name": "full" },
          "objective": { "name": "classifier-head", "options": { "lm_coef": 0.5 } },
          "task": { "name": "{{task}}", "dataset": "{{dataset}}", "max_train": 48, "max_dev": 24 {{extra}} },
          "training": { "epochs": 2, "batch_size": 16, "lr": 3e-3 },
          "seed": 7
        }
        """);
        return path;
    }

    /// <summary>en-4k cut to its first 510 ids without the special tokens, so the 512-row golden model fits it and grows by the
    /// three special tokens that do not fit (the vocabulary-resize path of a Hugging Face model).</summary>
    public static string SmallTokenizer(TempDir dir)
    {
        var source = Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k");
        var text = File.ReadAllText(Path.Combine(source, "vocab.json"));
        var vocab = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(text)!
            .Where(kv => kv.Value < 510 && !kv.Key.StartsWith("<|")).ToDictionary();
        var merges = File.ReadAllLines(Path.Combine(source, "merges.txt")).Skip(1).Select(l => l.Split(' '))
            .Where(m => m.Length == 2 && vocab.ContainsKey(m[0]) && vocab.ContainsKey(m[1]) && vocab.ContainsKey(m[0] + m[1]))
            .Select(m => string.Join(' ', m));
        var folder = dir["small-tokenizer"];
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "vocab.json"), System.Text.Json.JsonSerializer.Serialize(vocab));
        File.WriteAllLines(Path.Combine(folder, "merges.txt"), ["#version: 0.2", .. merges]);
        return folder;
    }
}
