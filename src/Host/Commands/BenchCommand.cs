using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PluginGpt.Core;
using PluginGpt.Core.Bench;
using TorchSharp;
using PluginGpt.Core.Model;
using PluginGpt.Host.Experiments;
using PluginGpt.Host.Plugins;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt bench train|generate</c>: throughput as ratios measured in one run.</summary>
public sealed class BenchCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => "small" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print the figures as JSON" };

        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 10 };
        var train = new Command("train", "Training tokens/s and achieved GFLOP/s as a fraction of this machine's matmul peak.") { preset, device, json, batch, steps };
        train.SetAction(parse =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            var peak = Benchmarks.MatmulPeak(dev);
            var r = Benchmarks.Training(config, parse.GetValue(batch), config.Context, parse.GetValue(steps), dev, peak.GFlops);
            Report(parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!, ["parameters"] = r.Parameters, ["matmul_peak_gflops"] = Math.Round(peak.GFlops, 1),
                ["train_tokens_per_s"] = Math.Round(r.TokensPerSecond), ["train_gflops"] = Math.Round(r.GFlops, 1),
                ["utilisation_of_peak"] = Math.Round(r.Utilisation, 3), ["step_s"] = Math.Round(r.StepSeconds, 3),
            });
            return 0;
        });

        var prompt = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 100 };
        var generate = new Command("generate", "Generation tokens/s with the KV cache against full recompute.") { preset, device, json, prompt, tokens };
        generate.SetAction(parse =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var r = Benchmarks.Generation(config, parse.GetValue(prompt), parse.GetValue(tokens), DeviceSelector.Parse(parse.GetValue(device)!));
            Report(parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!, ["new_tokens"] = r.Tokens,
                ["cached_tokens_per_s"] = Math.Round(r.CachedTokensPerSecond, 1), ["uncached_tokens_per_s"] = Math.Round(r.UncachedTokensPerSecond, 1),
                ["kv_cache_speedup"] = Math.Round(r.Speedup, 2),
            });
            return 0;
        });
        var loraBatch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var rank = new Option<int>("--r") { Description = "LoRA rank", DefaultValueFactory = _ => 8 };
        var lora = new Command("lora", "Forward time of the base model, LoRA unmerged and LoRA merged, as ratios to the base.") { preset, device, json, loraBatch, rank };
        lora.SetAction(parse =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var catalog = plugins.Value;
            TorchSharp.torch.manual_seed(0);
            using var model = new Decoder(config);
            model.to(DeviceSelector.Parse(parse.GetValue(device)!));
            int b = parse.GetValue(loraBatch), t = config.Context;
            var method = catalog.Get<IAdaptationMethod>(PluginKind.Method, "lora", "bench lora");
            var options = JsonOverrides.ToElement([$"r={parse.GetValue(rank)}"]);
            // Rounds interleave the three variants so that warm-up and drift on a shared machine hit all of them alike.
            var (bases, unmergedTimes, mergedTimes) = (new List<double>(), new List<double>(), new List<double>());
            for (int round = 0; round < 5; round++)
            {
                bases.Add(Benchmarks.ForwardSeconds(model, b, t, 3));
                using var attached = method.Attach(model, options);
                unmergedTimes.Add(Benchmarks.ForwardSeconds(model, b, t, 3));
                attached.Merge();
                mergedTimes.Add(Benchmarks.ForwardSeconds(model, b, t, 3));
            }
            static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
            double baseline = Median(bases), unmerged = Median(unmergedTimes), merged = Median(mergedTimes);
            Report(parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!, ["base_forward_ms"] = Math.Round(baseline * 1000, 2), ["lora_unmerged_forward_ms"] = Math.Round(unmerged * 1000, 2),
                ["lora_merged_forward_ms"] = Math.Round(merged * 1000, 2), ["unmerged_over_base"] = Math.Round(unmerged / baseline, 3), ["merged_over_base"] = Math.Round(merged / baseline, 3),
            });
            return 0;
        });
        return new Command("bench", "Measure throughput (figures are ratios within one run).") { train, generate, lora };
    }

    void Report(bool json, Dictionary<string, object> figures)
    {
        if (json) { Console.WriteLine(JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true })); return; }
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (k, v) in figures) table.AddRow(k, Convert.ToString(v, CultureInfo.InvariantCulture)!);
        console.Write(table);
    }
}
