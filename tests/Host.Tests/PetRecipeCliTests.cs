using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>PET and iPET from an experiment file through the CLI on real SST-2 rows with the tiny model, and <c>predict</c>
/// with what they leave behind.</summary>
public class PetRecipeCliTests
{
    static string Write(TempDir dir, string recipe, string options)
    {
        var path = dir[$"{recipe}.json"];
        File.WriteAllText(path, $$"""
        {
          "name": "{{recipe}}-tiny",
          "model": { "preset": "tiny", "tokenizer": "{{Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k")}}" },
          "method": { "name": "full" },
          "objective": { "name": "pet", "options": { "lm_alpha": 0.1, "max_length": 48 } },
          "recipe": { "name": "{{recipe}}", "options": {{options}} },
          "task": { "name": "classification", "dataset": "sst2", "max_train": 8, "balance_train": true, "max_unlabelled": 24,
                    "max_dev": 16 },
          "training": { "epochs": 1, "batch_size": 4, "lr": 1e-3, "keep": "last" },
          "seed": 3
        }
        """);
        return path;
    }

    static JsonElement Summary(string run) => JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))).RootElement;

    [Fact]
    public void PET_writes_every_stage_a_report_and_a_final_model_that_predict_uses()
    {
        using var dir = new TempDir();
        var run = dir["pet"];
        var r = CliRunner.Run("run", Write(dir, "pet", """{"patterns": [0, 1], "models_per_pattern": 1}"""), "--set", $"output={run}");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        foreach (var stage in new[] { "p0-zero-shot", "p0-m0", "p1-zero-shot", "p1-m0", "distilled" })
            Assert.True(File.Exists(Path.Combine(run, stage, "metrics.json")), stage);
        foreach (var file in new[] { "config.json", "metrics.json", "stages.md", "stages.png", "soft-labels.jsonl" })
            Assert.True(File.Exists(Path.Combine(run, file)), file);
        var stages = Summary(run).GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Equal(["p0 zero-shot", "p0 trained", "p1 zero-shot", "p1 trained", "ensemble", "distilled"], stages);
        // The recipe's metrics are its distilled model's; the config records the recipe and its plugin.
        Assert.Equal(Summary(Path.Combine(run, "distilled")).GetProperty("metrics").GetRawText(),
            Summary(run).GetProperty("metrics").GetRawText());
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))).RootElement;
        Assert.Equal("pet", config.GetProperty("recipe").GetProperty("name").GetString());
        Assert.Equal("pet", config.GetProperty("provenance").GetProperty("recipe").GetProperty("name").GetString());
        var soft = File.ReadAllLines(Path.Combine(run, "soft-labels.jsonl"));
        Assert.Equal(24, soft.Length);
        Assert.All(soft, l =>
            Assert.Equal(1, JsonDocument.Parse(l).RootElement.GetProperty("soft").EnumerateArray().Sum(v => v.GetDouble()), 9));
        Assert.Contains("| ensemble |", File.ReadAllText(Path.Combine(run, "stages.md")));

        // predict: the recipe folder answers with its distilled model, the same as that model's own folder.
        var input = dir["input.txt"];
        File.WriteAllLines(input, ["a gorgeous , witty , seductive movie .", "", "the plot is nothing but boilerplate clichés"]);
        var fromRecipe = CliRunner.Run("predict", run, "--input", input);
        var fromModel = CliRunner.Run("predict", Path.Combine(run, "distilled"), "--input", input);
        Assert.True(fromRecipe.ExitCode == 0, fromRecipe.Stderr + fromRecipe.Stdout);
        var lines = fromRecipe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);   // the blank line is skipped
        Assert.Equal(fromModel.Stdout, fromRecipe.Stdout);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Contains(first.GetProperty("label").GetString(), new[] { "negative", "positive" });
        Assert.Equal(1, first.GetProperty("probabilities").EnumerateObject().Sum(p => p.Value.GetDouble()), 9);

        // A PET model predicts through its pattern; --output writes the file.
        var output = dir["p0.jsonl"];
        var fromPattern = CliRunner.Run("predict", Path.Combine(run, "p0-m0"), "--input", input, "--output", output);
        Assert.True(fromPattern.ExitCode == 0, fromPattern.Stderr);
        Assert.Equal(2, File.ReadAllLines(output).Length);
    }

    [Fact]
    public void IPET_trains_every_generation_on_more_examples()
    {
        using var dir = new TempDir();
        var run = dir["ipet"];
        var r = CliRunner.Run("run",
            Write(dir, "ipet", """{"patterns": [0, 1], "models_per_pattern": 1, "generations": 2, "growth": 2, "distill": false}"""),
            "--set", $"output={run}");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        int Steps(string stage) => Summary(Path.Combine(run, stage)).GetProperty("steps").GetInt32();
        Assert.Equal(2, Steps("g0-p0-m0"));   // 8 examples, batch 4
        Assert.Equal(4, Steps("g1-p0-m0"));   // 8 + 8·2 − 8 = 16 examples
        var stages = Summary(run).GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Equal(["p0 zero-shot", "p1 zero-shot", "g0 models", "g1 models", "g1 ensemble"], stages);
        Assert.False(Directory.Exists(Path.Combine(run, "distilled")));
    }

    [Theory]
    [InlineData("""{"patterns": [7]}""", "objective.options.pattern_id")]
    [InlineData("""{"models_per_pattern": 0}""", "recipe.options.models_per_pattern")]
    // Found before the first stage trains, not after the whole ensemble.
    [InlineData("""{"final": {"method": {"name": "lorax"}}}""", "recipe.options.final (the distillation stage): method.name")]
    [InlineData("""{"final": {"objective": {"name": "classifier-head", "options": {"dropout": 7}}}}""",
        "recipe.options.final (the distillation stage): objective.options.dropout")]
    public void A_bad_recipe_option_is_one_line_and_exit_code_2(string options, string field)
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Write(dir, "pet", options), "--set", $"output={dir["run"]}");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(field, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void The_pool_is_required_and_predict_input_errors_name_file_and_line()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("run", Write(dir, "pet", "{}"), "--set", $"output={dir["run"]}", "--set", "task.max_unlabelled=0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("task.max_unlabelled", r.Stderr);

        var tiny = CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["tiny"]}", "--set", "training.epochs=1");
        Assert.Equal(0, tiny.ExitCode);
        var bad = dir["bad.jsonl"];
        File.WriteAllLines(bad, ["""{"text": "fine"}""", "{not json"]);
        var p = CliRunner.Run("predict", dir["tiny"], "--input", bad);
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("bad.jsonl:2", p.Stderr);
        var missing = CliRunner.Run("predict", dir["tiny"], "--input", dir["nothing.txt"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nothing.txt", missing.Stderr);
    }

    [Fact]
    public void A_sweep_of_PET_with_its_own_patterns_is_checked_as_the_recipe_will_run_it()
    {
        // SNLI has no built-in patterns: the recipe's own ones reach the objective per stage, so the up-front check leaves the
        // objective to the stages (checking the bare options would refuse a valid experiment).
        using var dir = new TempDir();
        var path = Write(dir, "pet", """{"patterns": ["{text_a}? {answer}, {text_b}"], "models_per_pattern": 1}""");
        var r = CliRunner.Run("sweep", path, "--grid", "seed=1,2", "--set", "task={\"name\": \"nli\", \"dataset\": \"snli\"}",
            "--set", "objective.options.verbalizer={\"entailment\": [\"Yes\"], \"neutral\": [\"Maybe\"], \"contradiction\": [\"No\"]}",
            "--slurm", "--out", dir["sweep"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(dir["sweep"], "sweep.sbatch")));
    }
}
