using System.CommandLine;
using System.Text.Json;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt export RUN_DIR --merged OUT</c>: a finished run as a plain model folder of its family (config.json,
/// model.safetensors with Hugging Face's GPT-2 or Llama names, the tokenizer's files) that <c>generate --model</c> and Hugging
/// Face-style loaders read as they are. LoRA and (IA)³ are merged into the weights; a fully fine-tuned body is written as it is;
/// methods that add computation a plain checkpoint cannot hold (adapters, prompt, prefix) are refused. The target must be new or
/// empty; nothing beside it is touched.
/// </summary>
public sealed class ExportCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    public Command Build()
    {
        var run = new Argument<string?>("run")
        {
            Description = "a finished run's folder (or a recipe's: its final model)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var adapters = new AdapterOptions();
        var merged = new Option<string>("--merged") { Description = "new or empty folder for the merged model", Required = true };
        var command = new Command("export", "Write a run's model, its method merged into the weights, as a plain model folder.")
        { run, merged, adapters.Adapters, adapters.Active };
        command.SetAction((parse, cancel) =>
        {
            var target = OutputFolder.EnsureFree(parse.GetValue(merged)!, "--merged");
            bool named = adapters.NamedInsteadOf(parse, parse.GetValue(run), "run").Count > 0;
            string dir = parse.GetValue(run) ?? "";
            (string, int, string) Export(OpenedRun opened)
            {
                dir = opened.Directory;
                var body = GptCheckpoint.BaseWeights(opened.Model).Values.Select(t => t.Handle).ToHashSet();
                if (!opened.Method.CanMerge && !opened.Method.Trainable.All(p => body.Contains(p.Parameter.Handle)))
                    throw new OptionsException($"{dir}: method '{opened.MethodName}' adds computation a plain checkpoint cannot hold " +
                        "(it cannot be merged into the weights); use generate --run with the run instead");
                // The folder is held (locked, checked empty) while it is written, and holds only what this export wrote: a failed
                // export takes its files away again, and export.json, written last, marks a complete one.
                using var claim = OutputFolder.Claim(target, "--merged", unique: false);
                try
                {
                    if (opened.Method.CanMerge) opened.Method.Merge();
                    GptCheckpoint.Save(opened.Model, claim.Directory);
                    opened.Tokenizer.Save(claim.Directory);
                    AtomicFile.WriteAllText(Path.Combine(claim.Directory, "export.json"), JsonSerializer.Serialize(new
                    {
                        run = Path.GetFullPath(dir),
                        method = opened.MethodName,
                        merged = opened.Method.CanMerge,
                    }, new JsonSerializerOptions { WriteIndented = true }));
                }
                catch
                {
                    foreach (var name in new[] { GptCheckpoint.ConfigFile, GptCheckpoint.WeightsFile }.Concat(opened.Tokenizer.Files))
                        File.Delete(Path.Combine(claim.Directory, name));
                    throw;
                }
                return (opened.MethodName, opened.Objectives.Sum(o => o.Parameters.Count), opened.Model.Config.ModelType);
            }
            var finished = runners.Finished();
            var (method, heads, family) = named ? adapters.OpenActive(finished, parse, Export) : finished.Open(dir, Export);
            console.MarkupLineInterpolated($"{method} run exported to {target} (a plain {family} model folder)");
            if (heads > 0)
                console.MarkupLineInterpolated(
                    $"[yellow]note:[/] the run's task head is not part of a plain checkpoint; it stays in {Path.Combine(dir, "best")}");
            return Task.FromResult(0);
        });
        return command;
    }
}
