using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using TorchSharp;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Every tensor a run creates has an owner that disposes it: runs in one process leave nothing for the GC.</summary>
public class OwnershipTests
{
    [Fact]
    public void Two_runs_of_every_method_and_an_evaluation_return_the_live_tensor_count_to_its_baseline_without_a_GC()
    {
        using var dir = new TempDir();
        var runner = new ExperimentRunner(PluginCatalog.Load(PluginFolders.Resolve(null)),
            (_, _, work) => work(new Progress<TrainingProgress>()));
        int runs = 0;
        // HF files: load + grown vocabulary
        var golden = Path.Combine(CliRunner.RepoRoot, "tests", "Core.Tests", "Fixtures", "golden-tiny-gpt2");
        string Run(string method, string objective = "classifier-head", params string[] extra)
        {
            var output = dir[$"run{runs++}"];
            var spec = ExperimentFile.Load(Experiments.Tiny, [$"output={output}", $"method.name={method}", $"objective.name={objective}",
                "objective.options=null", "training.epochs=1", "task.max_train=32", "task.max_dev=16", .. extra]);
            // Synchronous on purpose: TorchSharp's statistics are per thread.
            runner.RunAsync(spec, CancellationToken.None).GetAwaiter().GetResult();
            return output;
        }

        Run("lora");   // warm-up: whatever is created once per process (e.g. the matmul-peak probe's first use) is not a run's
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        foreach (var method in new[] { "full", "probe", "lora", "adapters", "prompt", "p-tuning", "prefix" })
            for (int i = 0; i < 2; i++) Run(method);
        Run("probe", "in-context");
        Run("lora", "text-to-text");
        Run("lora", "classifier-head", "model.preset=null", $"model.path={golden}", $"model.tokenizer={Experiments.SmallTokenizer(dir)}");
        runner.Finished.Evaluate(Run("lora"));
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        // The run's safety-net scope must have had nothing to free: every tensor had its owner.
        foreach (var log in Directory.GetFiles(dir.Path, "run.log", SearchOption.AllDirectories))
            Assert.DoesNotContain("left outside any dispose scope", File.ReadAllText(log));
    }
}
