using System.Text.Json;
using PluginGpt.Abstractions;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Tokenization;
using PluginGpt.Runs.Plugins;
using TorchSharp;
using Xunit;
using static PluginGpt.Host.Tests.CliTests;

namespace PluginGpt.Host.Tests;

/// <summary>A LoRA run and a prefix-tuning run of the text-to-text objective on the tiny pre-trained model, made once.</summary>
public sealed class TrainedRuns : IDisposable
{
    readonly TinyModelFolder model = new();
    readonly TempDir dir = new();
    public string Model => model.Path;
    public string Lora { get; }
    public string Prefix { get; }
    public string Prompt { get; }
    public const string PromptOptions = """{ "num_virtual_tokens": 4 }""";
    public const string LoraOptions = """{ "r": 4, "target_modules": ["c_attn", "c_fc"] }""";
    public const string PrefixOptions = """{ "num_virtual_tokens": 4 }""";

    public TrainedRuns()
    {
        Lora = Train("lora", LoraOptions);
        Prefix = Train("prefix", PrefixOptions);
        Prompt = Train("prompt", PromptOptions);
    }

    string Train(string method, string options)
    {
        var path = dir[$"{method}.json"];
        // fp32 on every machine: the library generation the tests compare with runs in fp32.
        File.WriteAllText(path, $$"""
        {
          "name": "t2t-{{method}}",
          "model": { "path": "{{model.Path}}" },
          "method": { "name": "{{method}}", "options": {{options}} },
          "objective": { "name": "text-to-text" },
          "task": { "name": "classification", "dataset": "sst2", "max_train": 16, "max_dev": 8 },
          "training": { "epochs": 1, "batch_size": 8, "lr": 0.02, "warmup": 0 },
          "precision": "fp32",
          "output": "{{dir[method]}}"
        }
        """);
        var r = CliRunner.Run("run", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return dir[method];
    }

    public void Dispose()
    {
        dir.Dispose();
        model.Dispose();
    }
}

/// <summary>Issue 11: a multi-task text-to-text run end to end, <c>generate --run</c> against the library's generation, and
/// <c>export --merged</c> against the unmerged model.</summary>
public class TextToTextCliTests(TrainedRuns runs) : IClassFixture<TrainedRuns>
{
    const string Mixing = "\"mixing\": { \"strategy\": \"proportional\", \"limit\": 16 },";

    static string MultiTask(TempDir dir, string extra = "", string mixing = Mixing)
    {
        var path = dir["multi.json"];
        File.WriteAllText(path, $$"""
        {
          "name": "t2t-multi",
          "model": { "preset": "tiny", "tokenizer": "{{Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k")}}" },
          "method": { "name": "full" },
          "objective": { "name": "text-to-text" },
          "tasks": [
            { "name": "classification", "dataset": "sst2", "max_train": 24, "max_dev": 8 },
            { "name": "similarity", "dataset": "stsb", "max_train": 24, "max_dev": 8 },
            { "name": "multiple-choice", "dataset": "copa", "max_train": 8, "max_dev": 8 }
          ],
          {{mixing}}
          "training": { "epochs": 1, "batch_size": 8, "lr": 0.001 },
          "seed": 3
          {{extra}}
        }
        """);
        return path;
    }

    [Fact]
    public void A_multi_task_run_reports_every_task_its_mean_and_a_per_task_table_and_chart()
    {
        using var dir = new TempDir();
        var output = dir["run"];
        var r = CliRunner.Run("run", MultiTask(dir), "--set", $"output={output}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement;
        var m = metrics.GetProperty("metrics");
        double Get(string key) => m.GetProperty(key).GetDouble();
        Assert.Equal((Get("sst2.accuracy") + Get("stsb.pearson") + Get("copa.accuracy")) / 3, Get("mean"), 10);
        Assert.InRange(Get("free.invalid_rate"), 0, 1);
        Assert.True(m.TryGetProperty("free.copa.accuracy", out _));
        Assert.Equal("mean", metrics.GetProperty("primary_metric").GetString());
        Assert.Equal("sst2+stsb+copa", metrics.GetProperty("dataset").GetString());
        // min(24, K) + min(24, K) + 8 = 40 draws a mixture epoch (K = 16): 5 steps of 8.
        Assert.Equal(5, metrics.GetProperty("steps").GetInt32());
        Assert.Contains("| stsb | pearson |", File.ReadAllText(Path.Combine(output, "tasks.md")));
        Assert.True(new FileInfo(Path.Combine(output, "tasks.png")).Length > 1000);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal("similarity", config.GetProperty("provenance").GetProperty("tasks[1]").GetProperty("name").GetString());

        var generated = CliRunner.Run("generate", "--run", output, "--template", "--task", "sst2", "--prompt", "a fine film", "--greedy",
            "--max-new-tokens", "3");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        Assert.StartsWith("<|endoftext|>sst2 sentence: a fine film answer:", generated.Stdout);   // exactly what the model reads
        OneLineError(CliRunner.Run("generate", "--run", output, "--template", "--prompt", "x"), "--task");

        File.WriteAllText(dir["in.txt"], "a fine film\nan awful mess\n");
        var predicted = CliRunner.Run("predict", output, "--input", dir["in.txt"], "--task", "sst2");
        Assert.True(predicted.ExitCode == 0, predicted.Stderr);
        Assert.Equal(2, predicted.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [InlineData(", \"task\": { \"name\": \"classification\", \"dataset\": \"sst2\" }", Mixing, "give \"task\" or \"tasks\"")]
    [InlineData("", "\"mixing\": { \"strategy\": \"bogus\" },", "mixing.strategy")]
    [InlineData("", "\"mixing\": { \"temperature\": 0 },", "mixing.temperature")]
    public void Bad_multi_task_experiments_are_one_line_errors(string extra, string mixing, string message)
    {
        using var dir = new TempDir();
        var path = MultiTask(dir, extra, mixing);
        OneLineError(CliRunner.Run("run", path, "--set", $"output={dir["run"]}"), message);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Multi_vs_single_gives_every_model_the_same_steps_and_reports_both_arms_per_task()
    {
        using var dir = new TempDir();
        var output = dir["compare"];
        // Per-task options name two of the mixture's tasks; each single-task stage gets its own task's alone.
        const string perTask =
            """{"tasks": {"sst2": {"template": "review: {text_a}"}, "stsb": {"template": "pair: {text_a} | {text_b}"}}}""";
        var r = CliRunner.Run("run", MultiTask(dir), "--set", $"output={output}", "--set", "recipe={\"name\": \"multi-vs-single\"}",
            "--set", "training.max_steps=3", "--set", "training.keep=last", "--set", $"objective.options={perTask}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        JsonElement TasksOptions(string stage) => JsonDocument.Parse(File.ReadAllText(Path.Combine(output, stage, "config.json")))
            .RootElement.GetProperty("objective").GetProperty("options").GetProperty("tasks");
        Assert.Equal(["sst2"], TasksOptions("single-sst2").EnumerateObject().Select(p => p.Name));
        Assert.Empty(TasksOptions("single-copa").EnumerateObject());
        Assert.Equal(2, TasksOptions("multi-task").EnumerateObject().Count());
        foreach (var stage in new[] { "multi-task", "single-sst2", "single-stsb", "single-copa" })
        {
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, stage, "metrics.json"))).RootElement;
            Assert.Equal(3, summary.GetProperty("steps").GetInt32());   // the same budget in both arms
        }
        var stages = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement.GetProperty("stages");
        var single = stages[0].GetProperty("metrics");
        Assert.Equal("single-task", stages[0].GetProperty("name").GetString());
        Assert.Equal("multi-task", stages[1].GetProperty("name").GetString());
        double Single(string key) => single.GetProperty(key).GetDouble();
        double Alone(string stage, string key) => JsonDocument.Parse(File.ReadAllText(Path.Combine(output, stage, "metrics.json")))
            .RootElement.GetProperty("metrics").GetProperty(key).GetDouble();
        Assert.Equal(Alone("single-stsb", "pearson"), Single("stsb.pearson"));
        Assert.Equal(Alone("single-copa", "free.accuracy"), Single("free.copa.accuracy"));
        Assert.Equal((Single("sst2.accuracy") + Single("stsb.pearson") + Single("copa.accuracy")) / 3, Single("mean"), 10);
        Assert.Contains("| multi-task |", File.ReadAllText(Path.Combine(output, "stages.md")));
        Assert.True(File.Exists(Path.Combine(output, "stages.png")));

        // Other recipes train one task: a multi-task experiment is refused, not half-run.
        OneLineError(CliRunner.Run("run", MultiTask(dir), "--set", $"output={dir["pet"]}", "--set", "recipe={\"name\": \"pet\"}"),
            "tasks: the pet recipe trains one task");
    }

    /// <summary>The base model with the run's method attached and its best/ weights loaded, through the plugin itself.</summary>
    (Core.Model.Decoder Model, IAttachedMethod Method) Library(string method, string options, string run)
    {
        var catalog = PluginCatalog.Load(PluginFolders.Resolve(null));
        var model = GptCheckpoint.Load(runs.Model);
        model.eval();
        var attached = catalog.Get<IAdaptationMethod>(PluginKind.Method, method, "method")
            .Attach(model, JsonDocument.Parse(options).RootElement);
        attached.Load(Path.Combine(run, "best"));
        return (model, attached);
    }

    [Theory]
    [InlineData("lora", TrainedRuns.LoraOptions)]
    [InlineData("prefix", TrainedRuns.PrefixOptions)]
    [InlineData("prompt", TrainedRuns.PromptOptions)]
    public void Generate_from_a_run_equals_the_librarys_generation_with_the_methods_weights(string method, string options)
    {
        var run = method switch { "lora" => runs.Lora, "prefix" => runs.Prefix, _ => runs.Prompt };
        // 70 new tokens run past the tiny model's 64 positions (60 with 4 virtual tokens): the window slides.
        var cli = CliRunner.Run("generate", "--run", run, "--prompt", "the film is", "--greedy", "--max-new-tokens", "70");
        Assert.True(cli.ExitCode == 0, cli.Stderr);

        var tokenizer = GptTokenizer.Load(runs.Model);
        var (model, attached) = Library(method, options, run);
        using (model)
        using (attached)
        {
            var ids = tokenizer.Encode("the film is");
            var tokens = TokenGenerator.Generate(model, ids, new GenerationOptions
            {
                Greedy = true,
                MaxNewTokens = 70,
                StopTokens = [tokenizer.EndOfText],
            }).ToList();
            Assert.Equal("the film is" + tokenizer.Decode(tokens) + "\n", cli.Stdout);

            // The run's weights matter: the adapted model's logits are not the base model's.
            using var _ = torch.no_grad();
            using var base_ = GptCheckpoint.Load(runs.Model);
            var input = torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0);
            Assert.False(model.Logits(input).allclose(base_.Logits(input), rtol: 0, atol: 1e-4));
        }
    }

    [Fact]
    public void A_merged_export_is_a_plain_model_with_the_unmerged_runs_logits()
    {
        using var dir = new TempDir();
        // Folders beside the target that an atomic folder swap would use are the user's: they stay as they are.
        foreach (var sibling in new[] { "merged.old", "merged.new" })
        {
            Directory.CreateDirectory(dir[sibling]);
            File.WriteAllText(Path.Combine(dir[sibling], "keep.txt"), sibling);
        }
        var r = CliRunner.Run("export", runs.Lora, "--merged", dir["merged"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var sibling in new[] { "merged.old", "merged.new" })
            Assert.Equal(sibling, File.ReadAllText(Path.Combine(dir[sibling], "keep.txt")));
        Assert.True(File.Exists(Path.Combine(dir["merged"], "export.json")));
        OneLineError(CliRunner.Run("export", runs.Lora, "--merged", dir["merged"]), "already exists");
        using var exported = GptCheckpoint.Load(dir["merged"]);
        Assert.True(GptTokenizer.Exists(dir["merged"]));
        var (model, attached) = Library("lora", TrainedRuns.LoraOptions, runs.Lora);
        using (model)
        using (attached)
        {
            using var _ = torch.no_grad();
            var input = torch.tensor(new long[] { 5, 17, 300, 42, 7, 99, 256, 1 }).view(2, 4);
            var difference = (exported.Logits(input) - model.Logits(input)).abs().max().item<float>();
            Assert.True(difference < 1e-4, $"merged and unmerged logits differ by {difference}");
        }
        // The generated text from the export equals the run's.
        var fromRun = CliRunner.Run("generate", "--run", runs.Lora, "--prompt", "a", "--greedy", "--max-new-tokens", "8");
        var fromExport = CliRunner.Run("generate", "--model", dir["merged"], "--prompt", "a", "--greedy", "--max-new-tokens", "8",
            "--precision", "fp32");
        Assert.Equal(fromRun.Stdout, fromExport.Stdout);
    }

    [Fact]
    public void A_method_that_cannot_merge_is_refused_and_nothing_is_written()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a-file"], "mine");
        OneLineError(CliRunner.Run("export", runs.Lora, "--merged", dir["a-file"]), "is a file");
        Assert.Equal("mine", File.ReadAllText(dir["a-file"]));
        OneLineError(CliRunner.Run("export", runs.Prefix, "--merged", dir["merged"]), "cannot be merged");
        Assert.False(Directory.Exists(dir["merged"]));
    }
}
