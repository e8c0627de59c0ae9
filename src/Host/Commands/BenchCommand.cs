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

/// <summary><c>plugingpt bench train|generate|profile|hooks|method|compare</c>: throughput and cost as ratios measured in one run.
/// Each subcommand reads its options into a <see cref="Shape"/>, runs one benchmark of <c>PluginGpt.Core.Bench</c>, and prints
/// and records its <see cref="BenchFigures"/>.</summary>
public sealed class BenchCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins, GlobalOptions.Values globals) : ICliCommand
{
    readonly Option<string> preset = new("--preset") { DefaultValueFactory = _ => "small" };
    readonly Option<string> device = new("--device") { DefaultValueFactory = _ => "cpu" };
    readonly Option<bool> json = new("--json") { Description = "print the figures as JSON" };
    readonly Option<int> batch = new("--batch-size") { DefaultValueFactory = _ => 16 };
    readonly Option<int> block = new("--block-size")
    {
        Description = "tokens per sequence; 0 = the model's context",
        DefaultValueFactory = _ => 0,
    };
    readonly Option<string> precisions = new("--precision")
    {
        Description = "comma-separated precisions to measure in this run (fp32, bf16, auto); ratios compare them",
        DefaultValueFactory = _ => "fp32,bf16",
    };
    readonly Option<double?> dropout = new("--dropout")
    {
        // GPT-2's presets train with 0.1, and attention dropout keeps LibTorch's CPU attention on its unfused path.
        Description = "dropout of the model's embeddings, attention weights and residuals during training (default: the preset's)",
    };

    readonly Option<string?> activation = new("--activation")
    {
        // nanoGPT, the peer, uses the exact GELU; GPT-2's presets the tanh approximation, which LibTorch computes far slower on CPU.
        Description = "the MLP's activation_function for GPT-2-family presets: gelu_new (GPT-2's), gelu (exact, as nanoGPT) or relu "
            + "(default: the preset's; the Llama family's is silu)",
    };

    /// <summary>What every benchmark is measured at: the preset's shape, the device, a batch of sequences and the precisions.</summary>
    sealed record Shape(string Preset, GptConfig Config, TorchSharp.torch.Device Device, int Batch, int Block,
        IReadOnlyList<PrecisionChoice> Precisions);

    Shape Read(ParseResult parse, Option<int>? batchOption = null, Option<string>? precisionOption = null)
    {
        var config = Presets.Get(parse.GetValue(preset)!);
        if (parse.GetValue(dropout) is { } p) config = config.WithDropout(p);
        if (parse.GetValue(activation) is { } act)
        {
            config = config with { Activation = act };
            try { config.Validate(); }   // names the config field; the Llama family keeps SiLU
            catch (OptionsException e) { throw new OptionsException($"--activation: {e.Message}"); }
        }
        var dev = DeviceSelector.Parse(parse.GetValue(device)!);
        int t = parse.GetValue(block) is > 0 and var given ? Math.Min(given, config.Context) : config.Context;
        var choices = parse.GetValue(precisionOption ?? precisions)!
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(name => PrecisionSelector.Resolve(name, dev)).ToList();   // `auto` probes the device
        return new Shape(parse.GetValue(preset)!, config, dev, parse.GetValue(batchOption ?? batch), t, choices);
    }

    public Command Build() => new("bench", "Measure throughput (figures are ratios within one run); results are recorded (--results).")
    {
        Train(), Generate(), Method(), Profile(), Hooks(), BenchCompareCommand.Build(console, Report),
    };

    Command Train()
    {
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 10 };
        var checkpointing = new Option<bool>("--gradient-checkpointing")
        {
            Description = "recompute block activations in backward (training.gradient_checkpointing): less memory, more compute",
        };
        var train = new Command("train",
            "Training tokens/s and achieved GFLOP/s over the matmul peak of each precision, measured in one run.")
        { preset, device, json, batch, block, steps, precisions, dropout, activation, checkpointing };
        train.SetAction((parse, cancel) =>
        {
            var s = Read(parse);
            bool recompute = parse.GetValue(checkpointing);
            var timed = s.Precisions.Select(p => Benchmarks.Training(s.Config, s.Batch, s.Block, parse.GetValue(steps), s.Device, p,
                cancel, recompute)).ToList();
            // Memory after every timed measurement: measuring it slows what follows (StepMemory).
            var results = timed.Zip(s.Precisions, (r, p) => r with
            {
                MemoryBytes = Benchmarks.TrainingMemoryBytes(s.Config, s.Batch, s.Block, s.Device, p, recompute),
            }).ToList();
            return Report(parse, BenchFigures.Training(s.Preset, s.Config.Activation, s.Batch, s.Block, recompute, results));
        });
        return train;
    }

    Command Generate()
    {
        var prompt = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var tokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 100 };
        var generate = new Command("generate",
            "Generation tokens/s with the KV cache against full recompute, per precision (bf16: bf16 weights).")
        { preset, device, json, prompt, tokens, precisions };
        generate.SetAction((parse, cancel) =>
        {
            var s = Read(parse);
            int newTokens = parse.GetValue(tokens);
            var results = s.Precisions
                .Select(p => (p.Name, Benchmarks.Generation(s.Config, parse.GetValue(prompt), newTokens, s.Device, p, cancel))).ToList();
            return Report(parse, BenchFigures.Generation(s.Preset, newTokens, results));
        });
        return generate;
    }

    Command Profile()
    {
        var profile = new Command("profile",
            "Where one training step's time goes: phases, each forward op kind and the matmul-heavy ones' backward, at the step's shapes.")
        { preset, device, json, batch, block, precisions, dropout, activation };
        profile.SetAction(async (parse, cancel) =>
        {
            var s = Read(parse);
            foreach (var choice in s.Precisions)
            {
                cancel.ThrowIfCancellationRequested();
                await Report(parse, BenchFigures.Profile(StepProfiler.Run(s.Config, s.Batch, s.Block, s.Device, choice)));
            }
            return 0;
        });
        return profile;
    }

    Command Hooks()
    {
        var hooks = new Command("hooks", "A training step with all four hook points present but empty against none (overhead).")
        { preset, device, json, batch, block, precisions };
        hooks.SetAction((parse, cancel) =>
        {
            var s = Read(parse);
            var r = HookOverhead.Run(s.Config, s.Batch, s.Block, s.Device, s.Precisions[0]);
            return Report(parse, BenchFigures.Hooks(s.Preset, s.Precisions[0].Name, r));
        });
        return hooks;
    }

    Command Method()
    {
        var methodBatch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var methodName = new Option<string>("--method") { Description = "the method plugin to measure (e.g. lora)", Required = true };
        var set = new Option<string[]>("--set") { Description = "method option, e.g. --set r=8" };
        var methodPrecisions = new Option<string>("--precision")
        {
            Description = "comma-separated precisions, each measured on its own (fp32, bf16, auto)",
            DefaultValueFactory = _ => "fp32",
        };
        var method = new Command("method",
            "A method's cost against the bare model: forward time (unmerged and merged) and training step time, as ratios.")
        { preset, device, json, methodBatch, block, methodName, set, methodPrecisions, dropout };
        method.SetAction(async (parse, cancel) =>
        {
            var s = Read(parse, methodBatch, methodPrecisions);
            var plugin = plugins.Value.Get<IAdaptationMethod>(PluginKind.Method, parse.GetValue(methodName)!, "--method");
            var options = JsonOverrides.ToElement(parse.GetValue(set) ?? []);
            var timed = s.Precisions.Select(choice =>
                MethodBenchmark.Run(plugin, options, s.Config, s.Batch, s.Block, s.Device, choice, cancel: cancel)).ToList();
            // Memory after every timed measurement: measuring it slows what follows (StepMemory).
            foreach (var (r, choice) in timed.Zip(s.Precisions))
            {
                cancel.ThrowIfCancellationRequested();
                var (full, adapted) = MethodBenchmark.Memory(plugin, options, s.Config, s.Batch, s.Block, s.Device, choice);
                await Report(parse, BenchFigures.Method(s.Preset, plugin.Manifest.Name, choice.Name,
                    r with { FullStepMemoryBytes = full, MethodStepMemoryBytes = adapted }));
            }
            return 0;
        });
        return method;
    }

    Task<int> Report(ParseResult parse, Dictionary<string, object> figures)
    {
        Report(parse, parse.GetValue(json), figures);
        return Task.FromResult(0);
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

    /// <summary>Prints the figures (as <paramref name="table"/> where a command lays them out itself) and records them in the
    /// results database (with the CPU, cores and commit).</summary>
    void Report(ParseResult parse, bool json, Dictionary<string, object> figures, Table? table = null)
    {
        Record(parse, figures);
        if (json) { Console.WriteLine(JsonSerializer.Serialize(figures, new JsonSerializerOptions { WriteIndented = true })); return; }
        if (table is null)
        {
            table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
            foreach (var (k, v) in figures) table.AddRow(k, Convert.ToString(v, CultureInfo.InvariantCulture)!);
        }
        console.Write(table);
    }
}
