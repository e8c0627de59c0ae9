using System.CommandLine;
using System.Text.Json;
using PluginGpt.Core;
using PluginGpt.Core.Model;
using PluginGpt.Core.Verification;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt verify --method NAME [--set key=value]… | --all</c>: the conformance checks every adaptation method must pass,
/// run on a small random decoder, one table (or JSON) per method; exit code 3 when a check fails. The checks compute in the
/// precision <c>run</c> would pick on the CPU (<c>--precision auto</c>, the default of both), so a method is verified as it will
/// train; the output says which.
/// </summary>
public sealed class VerifyCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var method = new Option<string?>("--method") { Description = "the method plugin to check (e.g. lora)" };
        var all = new Option<bool>("--all") { Description = "check every method plugin found, with its default options" };
        var set = new Option<string[]>("--set")
        {
            Description = "method option, e.g. --set r=4 --set target_modules=[\"c_attn\",\"c_fc\"]",
        };
        var preset = new Option<string>("--preset") { Description = "model shape to check on", DefaultValueFactory = _ => "tiny" };
        var json = new Option<bool>("--json") { Description = "print the checks as JSON" };
        var expectTrainable = new Option<long?>("--expect-trainable")
        {
            Description = "also check the trainable count on --preset (e.g. PEFT's figure for gpt2-small); shapes only, no compute",
        };
        var precision = GlobalOptions.Precision();
        var command = new Command("verify",
            "Check that an adaptation method plugin keeps the host's contract (see the plugin SDK's README).")
        { method, all, set, preset, json, precision, expectTrainable };
        command.SetAction((parse, cancel) =>
        {
            var name = parse.GetValue(method);
            if ((name is null) == !parse.GetValue(all)) throw new OptionsException("verify: give exactly one of --method NAME or --all");
            if (name is null && parse.GetValue(set) is { Length: > 0 })
                throw new OptionsException("--set: options belong to one method; with --all every method runs with its defaults");
            if (name is null && parse.GetValue(expectTrainable) is not null)
                throw new OptionsException("--expect-trainable: a count belongs to one method; give --method NAME");
            var targets = name is not null
                ? [plugins.Value.Find(PluginKind.Method, name, "--method")]
                : plugins.Value.Plugins.Where(p => p.Manifest.Kind == PluginKind.Method).OrderBy(p => p.Manifest.Name).ToList();
            var options = JsonOverrides.ToElement(parse.GetValue(set) ?? []);
            var config = Presets.Get(parse.GetValue(preset)!);
            var choice = PrecisionSelector.Resolve(parse.GetValue(precision)!, TorchSharp.torch.CPU);
            if (!parse.GetValue(json)) console.MarkupLine(Markup.Escape($"precision {choice.Name} ({choice.Reason})"));
            var results = new List<(LoadedPlugin Plugin, IReadOnlyList<VerificationCheck> Checks)>();
            foreach (var target in targets)
            {
                cancel.ThrowIfCancellationRequested();
                results.Add((target, MethodVerifier.Run((IAdaptationMethod)target.Instance, options, config, choice.ComputeType,
                    expectedTrainable: parse.GetValue(expectTrainable))));
            }
            if (parse.GetValue(json)) PrintJson(results, choice);
            else PrintTables(results);
            return Task.FromResult(results.All(r => r.Checks.All(c => c.Passed)) ? 0 : Cli.CheckFailed);
        });
        return command;
    }

    static void PrintJson(IEnumerable<(LoadedPlugin Plugin, IReadOnlyList<VerificationCheck> Checks)> results, PrecisionChoice choice) =>
        Console.WriteLine(JsonSerializer.Serialize(results.Select(r => new
        {
            method = r.Plugin.Manifest.Name,
            assembly = Path.GetFileName(r.Plugin.AssemblyPath),
            precision = choice.Name,
            precision_reason = choice.Reason,
            passed = r.Checks.All(c => c.Passed),
            checks = r.Checks.Select(c => new { name = c.Name, passed = c.Passed, detail = c.Detail }),
        }), new JsonSerializerOptions { WriteIndented = true }));

    void PrintTables(IEnumerable<(LoadedPlugin Plugin, IReadOnlyList<VerificationCheck> Checks)> results)
    {
        foreach (var (plugin, checks) in results)
        {
            var table = new Table().Title($"{plugin.Manifest.Name} ({Path.GetFileName(plugin.AssemblyPath)})")
                .AddColumns("check", "result", "measured");
            foreach (var c in checks) table.AddRow(c.Name, c.Passed ? "[green]pass[/]" : "[red]FAIL[/]", Markup.Escape(c.Detail));
            console.Write(table);
        }
    }
}
