using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PluginGpt.Core;
using PluginGpt.Core.Bench;
using PluginGpt.Core.Model;
using PluginGpt.Host.Experiments;
using PluginGpt.Host.Plugins;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt bench train|generate|method</c>: throughput and cost as ratios measured in one run.</summary>
public sealed class BenchCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => "small" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print the figures as JSON" };

        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 10 };
        var train = new Command("train", "Training tokens/s and achieved GFLOP/s as a fraction of this machine's matmul peak.")
        { preset, device, json, batch, steps };
        train.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            var peak = Benchmarks.MatmulPeak(dev);
            var r = Benchmarks.Training(config, parse.GetValue(batch), config.Context, parse.GetValue(steps), dev, peak.GFlops, cancel);
            Report(parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!,
                ["parameters"] = r.Parameters,
                ["matmul_peak_gflops"] = Math.Round(peak.GFlops, 1),
                ["train_tokens_per_s"] = Math.Round(r.TokensPerSecond),
                ["train_gflops"] = Math.Round(r.GFlops, 1),
                ["utilisation_of_peak"] = Math.Round(r.Utilisation, 3),
                ["step_s"] = Math.Round(r.StepSeconds, 3),
            });
            return Task.FromResult(0);
        });

        var prompt = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 100 };
        var generate = new Command("generate", "Generation tokens/s with the KV cache against full recompute.")
        { preset, device, json, prompt, tokens };
        generate.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var r = Benchmarks.Generation(config, parse.GetValue(prompt), parse.GetValue(tokens),
                DeviceSelector.Parse(parse.GetValue(device)!), cancel);
            Report(parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!,
                ["new_tokens"] = r.Tokens,
                ["cached_tokens_per_s"] = Math.Round(r.CachedTokensPerSecond, 1),
                ["uncached_tokens_per_s"] = Math.Round(r.UncachedTokensPerSecond, 1),
                ["kv_cache_speedup"] = Math.Round(r.Speedup, 2),
            });
            return Task.FromResult(0);
        });
        var methodBatch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var methodName = new Option<string>("--method") { Description = "the method plugin to measure (e.g. lora)", Required = true };
        var set = new Option<string[]>("--set") { Description = "method option, e.g. --set r=8" };
        var method = new Command("method",
            "A method's cost against the bare model: forward time (unmerged and merged) and training step time, as ratios.")
        { preset, device, json, methodBatch, methodName, set };
        method.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var plugin = plugins.Value.Get<IAdaptationMethod>(PluginKind.Method, parse.GetValue(methodName)!, "--method");
            var r = MethodBenchmark.Run(plugin, JsonOverrides.ToElement(parse.GetValue(set) ?? []), config, parse.GetValue(methodBatch),
                config.Context, DeviceSelector.Parse(parse.GetValue(device)!), cancel: cancel);
            var figures = new Dictionary<string, object>
            {
                ["preset"] = parse.GetValue(preset)!,
                ["method"] = plugin.Manifest.Name,
                ["trainable_parameters"] = r.TrainableParameters,
                ["total_parameters"] = r.TotalParameters,
                ["base_forward_ms"] = Math.Round(r.BaseForwardSeconds * 1000, 2),
                ["method_forward_ms"] = Math.Round(r.MethodForwardSeconds * 1000, 2),
                ["method_forward_over_base"] = Math.Round(r.MethodForwardSeconds / r.BaseForwardSeconds, 3),
            };
            if (r.MergedForwardSeconds is { } merged)
            {
                figures["merged_forward_ms"] = Math.Round(merged * 1000, 2);
                figures["merged_forward_over_base"] = Math.Round(merged / r.BaseForwardSeconds, 3);
            }
            figures["full_step_ms"] = Math.Round(r.FullStepSeconds * 1000, 1);
            if (!double.IsNaN(r.MethodStepSeconds))
            {
                figures["method_step_ms"] = Math.Round(r.MethodStepSeconds * 1000, 1);
                figures["method_step_over_full"] = Math.Round(r.MethodStepSeconds / r.FullStepSeconds, 3);
            }
            Report(parse.GetValue(json), figures);
            return Task.FromResult(0);
        });
        return new Command("bench", "Measure throughput (figures are ratios within one run).") { train, generate, method };
    }

    void Report(bool json, Dictionary<string, object> figures)
    {
        if (json) { Console.WriteLine(JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true })); return; }
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (k, v) in figures) table.AddRow(k, Convert.ToString(v, CultureInfo.InvariantCulture)!);
        console.Write(table);
    }
}
