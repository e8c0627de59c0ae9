using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PluginGpt.Core;
using PluginGpt.Core.Bench;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
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

    [Fact]
    public async Task Generation_benchmarks_and_evaluation_emit_spans_and_metrics_through_the_CLIs_providers()
    {
        using var dir = new TempDir();
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        var services = new ServiceCollection();
        services.AddPluginGptTelemetry(null, null, t => t.AddInMemoryExporter(spans), m => m.AddInMemoryExporter(metrics));
        using (var provider = services.BuildServiceProvider())
        {
            var tracer = provider.GetRequiredService<TracerProvider>();
            var meter = provider.GetRequiredService<MeterProvider>();
            var resource = tracer.GetResource().Attributes.ToDictionary(a => a.Key, a => a.Value);
            Assert.Equal(TelemetrySetup.ServiceName, resource["service.name"]);
            Assert.False(string.IsNullOrEmpty(resource["service.version"] as string));

            var cpu = DeviceSelector.Parse("cpu");
            var fp32 = PrecisionSelector.Resolve("fp32", cpu);
            using (var model = new Decoder(Presets.Tiny))
            {
                var greedy = new GenerationOptions { Greedy = true, MaxNewTokens = 5 };
                Assert.Equal(5, TokenGenerator.Generate(model, [1, 2, 3], greedy).Count());
            }
            Benchmarks.Training(Presets.Tiny, 2, 16, 2, cpu, fp32);
            Benchmarks.Generation(Presets.Tiny, 4, 3, cpu, fp32);
            var runner = new ExperimentRunner(PluginCatalog.Load(PluginFolders.Resolve(null)),
                (_, _, work) => work(new Progress<TrainingProgress>()));
            var tokenizer = Path.Combine(CliRunner.RepoRoot, "data", "tokenizers", "en-4k");
            await runner.RunAsync(ExperimentFile.Load(Experiments.Tiny, [$"output={dir["run"]}", $"model.tokenizer={tokenizer}",
                "training.epochs=1", "task.max_train=16", "task.max_dev=8"]), CancellationToken.None);
            runner.Finished.Evaluate(dir["run"]);
            tracer.ForceFlush();
            meter.ForceFlush();
        }
        var names = spans.Select(s => s.DisplayName).ToList();
        foreach (var span in new[] { "generate", "bench.train", "bench.generate", "evaluate" }) Assert.Contains(span, names);
        var generate = spans.First(s => s.DisplayName == "generate");
        Assert.Equal(5, generate.GetTagItem("new_tokens"));
        var evaluate = spans.Single(s => s.DisplayName == "evaluate");
        Assert.Contains(spans, s => s.DisplayName == "evaluation" && s.ParentSpanId == evaluate.SpanId);

        var units = metrics.GroupBy(m => m.Name).ToDictionary(g => g.Key, g => g.First().Unit);
        Assert.Equal("{token}/s", units["plugingpt.generate.tokens_per_second"]);
        Assert.Equal("s", units["plugingpt.generate.token_latency"]);
        // The user's one generation and the benchmark's four (a warm-up and a measured one, with and without the cache) apart.
        var rates = new Dictionary<string, long>();
        // The last export holds the cumulative counts (the providers export at the flush and again when disposed).
        foreach (var point in Points(metrics.Last(m => m.Name == "plugingpt.generate.tokens_per_second")))
        {
            var tags = new Dictionary<string, object?>();
            foreach (var tag in point.Tags) tags[tag.Key] = tag.Value;
            var key = $"{tags["source"]}/{tags["kv_cache"]}";
            rates[key] = rates.GetValueOrDefault(key) + point.GetHistogramCount();
        }
        Assert.Equal(new Dictionary<string, long> { ["generate/True"] = 1, ["bench/True"] = 2, ["bench/False"] = 2 }, rates);
        Assert.Equal("{token}/s", units["plugingpt.bench.tokens_per_second"]);
        Assert.Equal("{example}/s", units["plugingpt.eval.examples_per_second"]);
        Assert.Contains("plugingpt.bench.mfu", units.Keys);
        Assert.Contains("plugingpt.eval.score", units.Keys);
    }

    static List<MetricPoint> Points(Metric metric)
    {
        var points = new List<MetricPoint>();
        foreach (ref readonly var point in metric.GetMetricPoints()) points.Add(point);
        return points;
    }
}
