using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PluginGpt.Core;
using PluginGpt.Core.Bench;
using PluginGpt.Core.Model;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using PluginGpt.Runs.Results;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt bench train|generate|method</c>: throughput and cost as ratios measured in one run.</summary>
public sealed class BenchCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins, GlobalOptions.Values globals) : ICliCommand
{
    public Command Build()
    {
        var preset = new Option<string>("--preset") { DefaultValueFactory = _ => "small" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var json = new Option<bool>("--json") { Description = "print the figures as JSON" };

        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var block = new Option<int>("--block-size")
        {
            Description = "tokens per sequence; 0 = the model's context",
            DefaultValueFactory = _ => 0,
        };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 10 };
        var precisions = new Option<string>("--precision")
        {
            Description = "comma-separated precisions to measure in this run (fp32, bf16, auto); ratios compare them",
            DefaultValueFactory = _ => "fp32,bf16",
        };
        var checkpointing = new Option<bool>("--gradient-checkpointing")
        {
            Description = "recompute block activations in backward (training.gradient_checkpointing): less memory, more compute",
        };
        var train = new Command("train",
            "Training tokens/s and achieved GFLOP/s over the matmul peak of each precision, measured in one run.")
        { preset, device, json, batch, block, steps, precisions, checkpointing };
        train.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            int t = parse.GetValue(block) is > 0 and var given ? Math.Min(given, config.Context) : config.Context;
            var results = Choices(parse.GetValue(precisions)!, dev)
                .Select(p => Benchmarks.Training(config, parse.GetValue(batch), t, parse.GetValue(steps), dev, p, cancel,
                    parse.GetValue(checkpointing))).ToList();
            var figures = new Dictionary<string, object>
            {
                ["preset"] = parse.GetValue(preset)!,
                ["parameters"] = results[0].Parameters,
                ["batch"] = $"{parse.GetValue(batch)} x {t}",
                ["gradient_checkpointing"] = parse.GetValue(checkpointing),
            };
            foreach (var r in results)
            {
                figures[$"{r.Precision}_matmul_peak_gflops"] = Math.Round(r.PeakGFlops, 1);
                figures[$"{r.Precision}_train_tokens_per_s"] = Math.Round(r.TokensPerSecond);
                figures[$"{r.Precision}_train_gflops"] = Math.Round(r.GFlops, 1);
                figures[$"{r.Precision}_utilisation_of_peak"] = Math.Round(r.Utilisation, 3);
                figures[$"{r.Precision}_step_s"] = Math.Round(r.StepSeconds, 3);
                // The first precision's is the clean figure: a later one may reuse memory the allocator kept from the first.
                if (r.MemoryBytes is { } bytes) figures[$"{r.Precision}_train_memory_mib"] = Math.Round(bytes / 1048576.0, 1);
            }
            if (results.Count == 2)
                figures[$"{results[1].Precision}_over_{results[0].Precision}_tokens_per_s"] =
                    Math.Round(results[1].TokensPerSecond / results[0].TokensPerSecond, 2);
            Report(parse, parse.GetValue(json), figures);
            return Task.FromResult(0);
        });

        var prompt = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 100 };
        var generate = new Command("generate",
            "Generation tokens/s with the KV cache against full recompute, per precision (bf16: bf16 weights).")
        { preset, device, json, prompt, tokens, precisions };
        generate.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            var choices = Choices(parse.GetValue(precisions)!, dev);
            var results = choices
                .Select(p => (p.Name, R: Benchmarks.Generation(config, parse.GetValue(prompt), parse.GetValue(tokens), dev, p, cancel)))
                .ToList();
            var figures = new Dictionary<string, object> { ["preset"] = parse.GetValue(preset)!, ["new_tokens"] = parse.GetValue(tokens) };
            foreach (var (name, r) in results)
            {
                figures[$"{name}_cached_tokens_per_s"] = Math.Round(r.CachedTokensPerSecond, 1);
                figures[$"{name}_uncached_tokens_per_s"] = Math.Round(r.UncachedTokensPerSecond, 1);
                figures[$"{name}_kv_cache_speedup"] = Math.Round(r.Speedup, 2);
            }
            if (results.Count == 2)
                figures[$"{results[1].Name}_over_{results[0].Name}_cached_tokens_per_s"] =
                    Math.Round(results[1].R.CachedTokensPerSecond / results[0].R.CachedTokensPerSecond, 2);
            Report(parse, parse.GetValue(json), figures);
            return Task.FromResult(0);
        });
        var profile = new Command("profile",
            "Where one training step's time goes: phases, each forward op kind and the matmul-heavy ones' backward, at the step's shapes.")
        { preset, device, json, batch, block, precisions };
        profile.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            int t = parse.GetValue(block) is > 0 and var given ? Math.Min(given, config.Context) : config.Context;
            foreach (var choice in Choices(parse.GetValue(precisions)!, dev))
            {
                cancel.ThrowIfCancellationRequested();
                var p = StepProfiler.Run(config, parse.GetValue(batch), t, dev, choice);
                double ops = p.ForwardOps.Sum(o => o.Seconds);
                var figures = new Dictionary<string, object>
                {
                    ["precision"] = p.Precision,
                    ["step_ms"] = Math.Round((p.ForwardSeconds + p.BackwardSeconds + p.OptimizerSeconds) * 1000, 1),
                    ["forward_ms"] = Math.Round(p.ForwardSeconds * 1000, 1),
                    ["backward_ms"] = Math.Round(p.BackwardSeconds * 1000, 1),
                    ["optimizer_ms"] = Math.Round(p.OptimizerSeconds * 1000, 1),
                };
                foreach (var (op, seconds) in p.ForwardOps)
                    figures[$"forward: {op}"] = $"{seconds * 1000:F2} ms ({seconds / ops:P0} of the ops)";
                foreach (var (op, seconds) in p.BackwardOps) figures[$"backward: {op}"] = $"{seconds * 1000:F2} ms";
                Report(parse, parse.GetValue(json), figures);
            }
            return Task.FromResult(0);
        });

        var hooks = new Command("hooks", "A training step with all four hook points present but empty against none (overhead).")
        { preset, device, json, batch, block, precisions };
        hooks.SetAction((parse, cancel) =>
        {
            var config = Presets.Get(parse.GetValue(preset)!);
            var dev = DeviceSelector.Parse(parse.GetValue(device)!);
            int t = parse.GetValue(block) is > 0 and var given ? Math.Min(given, config.Context) : config.Context;
            var choice = Choices(parse.GetValue(precisions)!, dev)[0];
            var r = HookOverhead.Run(config, parse.GetValue(batch), t, dev, choice);
            Report(parse, parse.GetValue(json), new()
            {
                ["preset"] = parse.GetValue(preset)!,
                ["precision"] = choice.Name,
                ["step_ms_without_hooks"] = Math.Round(r.AbsentStepSeconds * 1000, 1),
                ["step_ms_with_empty_hooks"] = Math.Round(r.PresentStepSeconds * 1000, 1),
                ["overhead"] = $"{r.Overhead:P1}",
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
            const double MiB = 1024 * 1024;
            if (r.FullStepMemoryBytes is { } fullBytes) figures["full_step_memory_mib"] = Math.Round(fullBytes / MiB, 1);
            if (r.MethodStepMemoryBytes is { } methodBytes) figures["method_step_memory_mib"] = Math.Round(methodBytes / MiB, 1);
            if (r.FullStepMemoryBytes is > 0 && r.MethodStepMemoryBytes is { } m)
                figures["method_memory_over_full"] = Math.Round(m / (double)r.FullStepMemoryBytes.Value, 3);
            Report(parse, parse.GetValue(json), figures);
            return Task.FromResult(0);
        });
        var compare = BenchCompareCommand.Build(console, Report);
        return new Command("bench", "Measure throughput (figures are ratios within one run); results are recorded (--results).")
        {
            train, generate, method, profile, hooks, compare,
        };
    }

    void Record(ParseResult parse, IReadOnlyDictionary<string, object> figures)
    {
        if (globals.Results is not { } database) return;
        var precision = parse.CommandResult.Command.Options.FirstOrDefault(o => o.Name == "--precision") is Option<string> option
            ? parse.GetValue(option) : null;
        var arguments = parse.Tokens.Select(t => t.Value).SkipWhile(t => t != "bench").Skip(2);
        using var store = ResultsStore.Open(database);
        store.RecordBench(BenchRecord.Now(parse.CommandResult.Command.Name, arguments, precision, figures));
    }

    /// <summary>The precisions of a comma-separated list, each resolved on the device (<c>auto</c> probes it).</summary>
    static IReadOnlyList<PrecisionChoice> Choices(string list, TorchSharp.torch.Device device) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(name => PrecisionSelector.Resolve(name, device)).ToList();

    /// <summary>Prints the figures and records them in the results database (with the CPU, cores and commit).</summary>
    void Report(ParseResult parse, bool json, Dictionary<string, object> figures)
    {
        Record(parse, figures);
        if (json) { Console.WriteLine(JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true })); return; }
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (k, v) in figures) table.AddRow(k, Convert.ToString(v, CultureInfo.InvariantCulture)!);
        console.Write(table);
    }
}
