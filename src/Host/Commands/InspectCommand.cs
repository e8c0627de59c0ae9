using System.CommandLine;
using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using Spectre.Console;
using TorchSharp;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt inspect</c>: parameter counts of a preset (built on the meta device: no memory) or a model folder.</summary>
public sealed class InspectCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model")
        {
            Description = "a preset name (tiny, small, gpt1, gpt2-small, llama-tiny, llama-small), a model folder or hf:ORG/NAME",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "print {\"totalParameters\": N, \"trainableParameters\": M, ...}" };
        var method = new Option<string?>("--method") { Description = "attach an adaptation method plugin first (e.g. lora)" };
        var set = new Option<string[]>("--set") { Description = "method option, e.g. --set r=8 --set target_modules=[\"c_attn\"]" };
        var command = new Command("inspect", "Count total and trainable parameters per module group.") { model, json, method, set };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(model)!;
            if (Core.Hub.HubModel.IsHubReference(name)) name = ShippedData.ModelPath(name);
            if (parse.GetValue(method) is null && parse.GetValue(set) is { Length: > 0 })
                throw new OptionsException("--set: method options need --method (the method they configure)");
            var config = Directory.Exists(name) ? GptCheckpoint.ReadConfig(name) : Presets.Get(name);
            // A folder's counts are only true of weights that load: read them once (shapes, dtypes, layout), then count.
            if (Directory.Exists(name)) GptCheckpoint.Load(name).Dispose();
            using var decoder = new Decoder(config, torch.META);
            IAttachedMethod? attached = null;
            if (parse.GetValue(method) is { } methodName)
            {
                var catalog = plugins.Value;
                var plugin = catalog.Get<IAdaptationMethod>(PluginKind.Method, methodName, "--method");
                attached = MethodInstaller.Attach(plugin, decoder, JsonOverrides.ToElement(parse.GetValue(set) ?? []));
            }
            // A method's modules live in the decoder's tree, so one walk counts them; a tied tensor counts once.
            var report = ParameterReport.Of(decoder.named_parameters());
            attached?.Dispose();
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = name,
                    method = parse.GetValue(method),
                    totalParameters = report.Total,
                    trainableParameters = report.Trainable,
                    config,
                    groups = report.Groups.ToDictionary(g => g.Name, g => new { total = g.Total, trainable = g.Trainable }),
                }, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            var shape = config.IsLlamaFamily
                ? $"{config.ModelType}: RMSNorm, rotary, SwiGLU, {config.Heads} query / {config.KeyValueHeads} key-value heads"
                : $"{config.ModelType}: {config.Norm}-LN, {config.Heads} heads";
            console.WriteLine(
                $"{name}: {config.Layers} layers, d={config.ModelDim}, context {config.Context}, vocab {config.Vocab}, {shape}");
            var table = new Table()
                .AddColumn("group").AddColumn(new TableColumn("total").RightAligned())
                .AddColumn(new TableColumn("trainable").RightAligned());
            foreach (var g in report.Groups) table.AddRow(g.Name, $"{g.Total:N0}", $"{g.Trainable:N0}");
            table.AddRow("[bold]all[/]", $"[bold]{report.Total:N0}[/]", $"[bold]{report.Trainable:N0}[/]");
            console.Write(table);
            return 0;
        });
        return command;
    }
}
