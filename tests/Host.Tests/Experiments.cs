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
}
