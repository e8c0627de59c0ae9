using System.Text.Json;
using PluginGpt.Abstractions;
using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using TorchSharp;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Named adapters: several finished runs loaded onto one base model, switched per call (PEFT's <c>set_adapter</c>).
/// </summary>
public class NamedAdapterTests
{
    static readonly ExperimentRunner Runner =
        new(PluginCatalog.Load(PluginFolders.Resolve(null)), (_, _, work) => work(new Progress<TrainingProgress>()));

    static string Train(TempDir dir, string name, string method, params string[] extra)
    {
        var output = dir[name];
        var spec = ExperimentFile.Load(Experiments.Tiny, [$"output={output}", $"method.name={method}", "training.epochs=1",
            "task.max_train=32", "task.max_dev=16", .. extra]);
        Runner.RunAsync(spec, CancellationToken.None).GetAwaiter().GetResult();
        return output;
    }

    // The last is longer than the tiny model's context: each run cuts it to the room its objective was built with (less the
    // virtual tokens of prompt tuning).
    static readonly Example[] Sentences = [new(["a gorgeous, witty film"]), new(["dull and lifeless"]), new(["it is a film"]),
        new([string.Join(" ", Enumerable.Repeat("a long and winding film", 30))])];
    static readonly Example[] Pairs = [new(["The cat sat on the mat.", "A cat is sitting."]), new(["It rained.", "It was dry."])];

    [Fact]
    public void Each_adapter_answers_exactly_as_its_run_alone_however_often_they_are_switched_and_nothing_is_left_behind()
    {
        using var dir = new TempDir();
        // Three hook points, two tasks: LoRA and (IA)³ wrap Linears, prompt tuning prepends virtual tokens (its objective's room
        // is shorter), prefix tuning feeds key/value prefixes; RTE reads pairs.
        var runs = new Dictionary<string, (string Dir, Example[] Inputs)>
        {
            ["lora"] = (Train(dir, "lora", "lora"), Sentences),
            ["ia3"] = (Train(dir, "ia3", "ia3", "training.lr=0.05"), Sentences),
            ["prompt"] = (Train(dir, "prompt", "prompt", "method.options={\"num_virtual_tokens\": 20}"), Sentences),
            ["rte"] = (Train(dir, "prefix", "prefix", "task.name=nli", "task.dataset=rte"), Pairs),
        };
        var alone = runs.ToDictionary(r => r.Key, r => Probabilities(Runner.Predict(r.Value.Dir, r.Value.Inputs, CancellationToken.None)));
        Assert.NotEqual(alone["lora"], alone["ia3"]);   // the adapters differ, so a wrong switch would show
        var scored = runs.ToDictionary(r => r.Key, r => Runner.Finished.Evaluate(r.Value.Dir));

        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var order = new[] { "ia3", "lora", "prompt", "rte", "lora", "ia3", "ia3", "prompt", "rte" };
        var attachments = Runner.Finished.OpenAdapters([.. runs.Select(r => new NamedRun(r.Key, r.Value.Dir))], "lora", set =>
        {
            Assert.Equal(["lora", "ia3", "prompt", "rte"], set.Names);
            Assert.Equal("lora", set.Active);
            int opened = set.Attachments;   // one per run while opening (each objective is built on its run's method), then lora
            var live = new List<long>();
            foreach (var name in order)
            {
                Assert.Equal(alone[name], Probabilities(set.Predict(name, runs[name].Inputs)));
                if (name == "rte") live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            }
            Assert.Equal(live[0], live[1]);   // a round of switches frees what it replaces: the same tensors live after each
            foreach (var name in new[] { "rte", "lora" }) Assert.Equal(scored[name], set.Evaluate(name));   // each on its own dev set
            return set.Attachments - opened;
        });
        Assert.Equal(8 + 1, attachments);   // one per change of name (ia3 → ia3, rte → rte attach nothing)
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // closing the set frees it all
    }

    static List<double> Probabilities(IReadOnlyList<Prediction> predictions) => [.. predictions.SelectMany(p => p.Probabilities)];

    [Fact]
    public void Predict_routes_each_line_to_the_adapter_it_names_and_refuses_what_cannot_share_a_base()
    {
        using var dir = new TempDir();
        string lora = Train(dir, "lora", "lora"), prefix = Train(dir, "prefix", "prefix", "task.name=nli", "task.dataset=rte");
        var rows = dir["rows.jsonl"];
        File.WriteAllLines(rows, [
            """{"text": "a gorgeous, witty film"}""",
            """{"text_a": "The cat sat on the mat.", "text_b": "A cat is sitting.", "adapter": "rte"}""",
            """{"text": "dull and lifeless", "adapter": "sst2"}""",
        ]);
        var routed = CliRunner.Run("predict", "--adapter", $"sst2={lora}", "--adapter", $"rte={prefix}", "--input", rows);
        Assert.True(routed.ExitCode == 0, routed.Stderr);
        var lines = routed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["sst2", "rte", "sst2"], lines.Select(l => l.GetProperty("adapter").GetString()));
        // The same lines through each run alone (the "adapter" field is ignored there) give the same probabilities.
        string Alone(string run, params int[] indices)
        {
            var file = dir[$"alone-{Path.GetFileName(run)}.jsonl"];
            File.WriteAllLines(file, indices.Select(i => File.ReadAllLines(rows)[i]));
            var r = CliRunner.Run("predict", run, "--input", file);
            Assert.True(r.ExitCode == 0, r.Stderr);
            return string.Join("|", r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("probabilities").GetRawText()));
        }
        string Routed(params int[] indices) => string.Join("|", indices.Select(i => lines[i].GetProperty("probabilities").GetRawText()));
        Assert.Equal(Alone(lora, 0, 2), Routed(0, 2));
        Assert.Equal(Alone(prefix, 1), Routed(1));

        // generate and export take the active adapter as --run / the run argument take that run.
        string[] generation = ["--prompt", "The film", "--max-new-tokens", "6", "--greedy"];
        var generated = CliRunner.Run(
            ["generate", "--adapter", $"sst2={lora}", "--adapter", $"rte={prefix}", "--active", "rte", .. generation]);
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        Assert.Equal(CliRunner.Run(["generate", "--run", prefix, .. generation]).Stdout, generated.Stdout);
        var exported = CliRunner.Run("export", "--adapter", $"rte={prefix}", "--adapter", $"sst2={lora}", "--active", "sst2",
            "--merged", dir["named-export"]);
        Assert.True(exported.ExitCode == 0, exported.Stderr);
        Assert.Equal(0, CliRunner.Run("export", lora, "--merged", dir["export"]).ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["export"], "model.safetensors")),
            File.ReadAllBytes(Path.Combine(dir["named-export"], "model.safetensors")));

        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"sst2={lora}", "--input", rows), "rows.jsonl:2", "'rte'", "sst2");
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"a={lora}", "--adapter", $"b={Train(dir, "full", "full")}",
            "--input", rows), "--adapter b", "'full'", "base model's own weights");
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"a={lora}", "--adapter", $"b={Train(dir, "seed", "lora", "seed=8")}",
            "--input", rows), "--adapter b", "seed 8", "one base model");
        BadInputTests.OneLine(CliRunner.Run("predict", lora, "--adapter", $"a={lora}", "--input", rows), "run / --adapter");
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"sst2={lora}", "--active", "imdb", "--input", rows),
            "--active", "'imdb'", "sst2");
        // A damaged adapter is refused when the set opens, even when no line names it, and the error says which one.
        var broken = dir["broken"];
        foreach (var file in Directory.GetFiles(lora, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(broken, Path.GetRelativePath(lora, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(file, copy);
        }
        File.WriteAllBytes(Path.Combine(broken, "best", "adapter_model.safetensors"), new byte[100]);
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"sst2={lora}", "--adapter", $"b={broken}", "--input",
            dir["alone-lora.jsonl"]), "--adapter b", "adapter_model.safetensors");
        File.WriteAllLines(dir["numbered.jsonl"], ["""{"text": "a film", "adapter": 3}"""]);
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"sst2={lora}", "--input", dir["numbered.jsonl"]),
            "numbered.jsonl:1", "adapter", "string");
        // A model folder whose vocabulary the tokenizer grows: the new rows are drawn from each run's seed, so seeds must agree.
        var golden = Path.Combine(CliRunner.RepoRoot, "tests", "Core.Tests", "Fixtures", "golden-tiny-gpt2");
        string[] grown = ["model.preset=null", $"model.path={golden}", $"model.tokenizer={Experiments.SmallTokenizer(dir)}"];
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", $"a={Train(dir, "g7", "lora", grown)}", "--adapter",
            $"b={Train(dir, "g8", "lora", [.. grown, "seed=8"])}", "--input", rows), "--adapter b", "seed 8", "one base model");
        BadInputTests.OneLine(CliRunner.Run("predict", "--adapter", lora, "--input", rows), "NAME=RUN_DIR");
    }
}
