using System.CommandLine;
using System.Globalization;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Host.Display;
using PluginGpt.Runs;
using PluginGpt.Runs.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt quickstart [--out DIR]</c>: adapt the shipped base model (or, with <c>--pretrain-steps N</c>, a small model it
/// pre-trains first on the shipped corpus) to SST-2 with each method in <c>experiments/quickstart/</c>, and compare them in a table,
/// results.json, results.md and results.png.
/// </summary>
public sealed class QuickstartCommand(IAnsiConsole console, ExperimentRunnerFactory runners) : ICliCommand
{
    readonly Option<string> output = new("--out")
    {
        Description = "output folder (a model pre-trained with --pretrain-steps is cached in DIR/model)",
        DefaultValueFactory = _ => "runs/quickstart",
    };
    readonly Option<string> baseModel = new("--model")
    {
        Description = "the model to adapt",
        DefaultValueFactory = _ => ShippedData.BaseModel,
    };
    readonly Option<int> steps = new("--pretrain-steps")
    {
        Description = "instead of --model, pre-train the small preset on the shipped SST-2 sentences for this many steps first " +
            "(1000 ≈ 7 minutes on 2 cores)",
    };
    readonly Option<string> experiments = new("--experiments")
    {
        Description = "folder of experiment files to compare",
        DefaultValueFactory = _ => "experiments/quickstart",
    };

    public Command Build()
    {
        var command = new Command("quickstart",
            "Adapt the shipped base model to SST-2 by full fine-tuning, linear probe, LoRA and in-context learning, and compare them.")
        { output, baseModel, steps, experiments };
        command.SetAction(async (parse, cancel) =>
        {
            var dir = Path.GetFullPath(parse.GetValue(output)!);
            int pretrainSteps = parse.GetValue(steps);
            var (specs, model) = Check(parse, dir, pretrainSteps);
            EnsureModel(model, pretrainSteps, cancel);
            var rows = await RunAll(specs, model, dir, cancel);
            if (rows.Count == 0 || cancel.IsCancellationRequested) return Cli.Cancelled;   // nothing finished to compare
            var majority = new ComparisonRow("majority-class", rows[0].Task, 0, "accuracy", MajorityBaseline(specs[0]), 0);
            var written = ComparisonReport.Write(console, dir, "results", rows, majority, "SST-2 dev accuracy by adaptation method");
            console.MarkupLineInterpolated($"results: {string.Join(", ", written)}");
            return 0;
        });
        return command;
    }

    /// <summary>Every experiment file checked before the long work, so a typo fails in a second, not after minutes; the model
    /// folder to adapt (the shipped one, or the quickstart's own pre-trained cache).</summary>
    (List<ExperimentSpec> Specs, string Model) Check(ParseResult parse, string dir, int pretrainSteps)
    {
        var specs = ExperimentFiles(parse.GetValue(experiments)!).Select(f => ExperimentFile.LoadValid(f, [])).ToList();
        if (pretrainSteps < 0) throw new OptionsException($"--pretrain-steps: must be ≥ 0, got {pretrainSteps}");
        if (pretrainSteps > 0 && parse.GetResult(baseModel) is { Implicit: false })
            throw new OptionsException("--model: not used with --pretrain-steps (the quickstart pre-trains its own model)");
        var model = pretrainSteps > 0 ? Path.Combine(dir, "model") : ShippedData.ModelPath(parse.GetValue(baseModel)!);
        var shape = pretrainSteps > 0 ? Presets.Small : Core.Checkpoints.GptCheckpoint.ReadConfig(model);
        foreach (var spec in specs) runners.Quiet().Check(spec, shape);
        return (specs, model);
    }

    /// <summary>With <c>--pretrain-steps</c>: the model folder is the quickstart's own cache; a model that reached the steps is
    /// reused, an interrupted pre-training of the same length goes on, anything else there is replaced.</summary>
    void EnsureModel(string model, int pretrainSteps, CancellationToken cancel)
    {
        if (pretrainSteps == 0) { console.MarkupLineInterpolated($"[grey]adapting {model}[/]"); return; }
        if (Pretrainer.CheckpointStep(model) >= pretrainSteps)
        {
            console.MarkupLineInterpolated($"[grey]reusing the pre-trained model in {model}[/]");
            return;
        }
        var stored = Pretrainer.StoredOptions(model);
        bool resume = Directory.Exists(Path.Combine(model, Pretrainer.CheckpointDir))
            && (stored is null || stored.MaxSteps == pretrainSteps);
        var options = new PretrainOptions
        {
            OutputDirectory = model,
            Corpus = ShippedData.DefaultCorpus(),
            MaxSteps = pretrainSteps,
            Resume = resume,
            Overwrite = !resume && Directory.Exists(model),
        };
        TrainingDisplay.Run(console, "pretrain small", pretrainSteps, progress => Pretrainer.Run(options, progress, cancel));
        LossReport.Write(model);
    }

    /// <summary>Each experiment on the model, in its own folder under <c>runs/</c>; a row of the comparison per finished run.</summary>
    async Task<List<ComparisonRow>> RunAll(IReadOnlyList<ExperimentSpec> specs, string model, string dir, CancellationToken cancel)
    {
        var stamp = DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var rows = new List<ComparisonRow>();
        foreach (var spec in specs)
        {
            if (cancel.IsCancellationRequested) break;
            var run = spec with
            {
                Model = spec.Model with { Path = model, Tokenizer = null, Preset = null },
                Output = Path.Combine(dir, "runs", $"{spec.Name}-{stamp}"),
            };
            var result = await runners.Create(spec.Name).RunAsync(run, cancel);
            var summary = RunFiles.ReadSummary(result.Directory);
            rows.Add(new ComparisonRow(spec.Name, $"{summary.Task}/{summary.Dataset}", summary.TrainableParameters,
                summary.PrimaryMetric, summary.PrimaryScore, result.Seconds, result.Directory)
            { TrainingMemoryMb = summary.TrainingMemoryMb });
        }
        return rows;
    }

    static IReadOnlyList<string> ExperimentFiles(string folder)
    {
        var resolved = Directory.Exists(folder) ? folder : ShippedData.RepoPath(folder);
        var files = Directory.GetFiles(resolved, "*.json").OrderBy(f => Order(Path.GetFileNameWithoutExtension(f))).ToList();
        return files.Count > 0 ? files : throw new UserInputException($"--experiments: no experiment files in {resolved}");
        static int Order(string name) => Array.IndexOf(["full", "probe", "lora", "in-context"], name) is var i and >= 0 ? i : 99;
    }

    /// <summary>Accuracy of always answering the most frequent training label: the bar every method must clear.</summary>
    double MajorityBaseline(ExperimentSpec spec)
    {
        var data = runners.Quiet().LoadTask(spec);
        int majority = data.Train.GroupBy(e => e.Label).MaxBy(g => g.Count())!.Key;
        return data.Dev.Count(e => e.Label == majority) / (double)data.Dev.Count;
    }
}
