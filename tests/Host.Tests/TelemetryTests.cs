using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PluginGpt.Core.Training;
using PluginGpt.Host.Experiments;
using PluginGpt.Host.Plugins;
using Xunit;

namespace PluginGpt.Host.Tests;

public class TelemetryTests
{
    [Fact]
    public async Task A_tiny_run_emits_its_spans_and_metrics()
    {
        using var dir = new TempDir();
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using (var tracer = Sdk.CreateTracerProviderBuilder().AddSource("PluginGpt").AddInMemoryExporter(spans).Build())
        using (var meter = Sdk.CreateMeterProviderBuilder().AddMeter("PluginGpt").AddInMemoryExporter(metrics).Build())
        {
            var catalog = PluginCatalog.Load(PluginFolders.Resolve(null));
            var runner = new ExperimentRunner(catalog, (_, _, work) => work(new Progress<TrainingProgress>()));
            var tokenizer = Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k");
            var spec = ExperimentFile.Load(Experiments.Tiny, [$"output={dir["run"]}", $"model.tokenizer={tokenizer}"]);
            await runner.RunAsync(spec, CancellationToken.None);
            tracer!.ForceFlush();
            meter!.ForceFlush();
        }
        var names = spans.Select(s => s.DisplayName).ToList();
        Assert.Single(names, n => n == "run");
        Assert.Equal(2, names.Count(n => n == "epoch"));
        Assert.Equal(2, names.Count(n => n == "evaluation"));
        Assert.True(names.Count(n => n == "plugin.load") >= 2);
        var run = spans.Single(s => s.DisplayName == "run");
        Assert.All(spans.Where(s => s.DisplayName == "epoch"), e => Assert.Equal(run.SpanId, e.ParentSpanId));
        Assert.Contains(spans.Where(s => s.DisplayName == "evaluation"), e => e.GetTagItem("metric.accuracy") is double);

        var metricNames = metrics.Select(m => m.Name).ToHashSet();
        foreach (var m in new[] { "plugingpt.train.loss", "plugingpt.train.step_time", "plugingpt.train.examples_per_second",
                                  "plugingpt.train.tokens_per_second", "plugingpt.train.mfu", "plugingpt.eval.score",
                                  "plugingpt.process.memory" })
            Assert.Contains(m, metricNames);
        long lossCount = 0;
        foreach (var p in metrics.First(m => m.Name == "plugingpt.train.loss").GetMetricPoints()) lossCount += p.GetHistogramCount();
        Assert.Equal(8, lossCount);   // 64 examples / 16 per batch × 2 epochs
    }
}
