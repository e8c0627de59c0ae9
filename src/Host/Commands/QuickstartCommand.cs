using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Training;
using PluginGpt.Host.Display;
using PluginGpt.Runs;
using PluginGpt.Runs.Plugins;
using PluginGpt.Runs.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary>
/// <c>plugingpt quickstart [--out DIR]</c>: adapt the shipped base model (or, with <c>--pretrain-steps N</c>, a small model it
/// pre-trains first on the shipped corpus) to SST-2 with each method in <c>experiments/quickstart/</c>, and compare them in a table,
/// results.json, results.md and results.png.
/// </summary>
public sealed class QuickstartCommand(IAnsiConsole console, ExperimentRunnerFactory runners, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var output = new Option<string>("--out")
        {
            Description = "output folder (a model pre-trained with --pretrain-steps is cached in DIR/model)",
            DefaultValueFactory = _ => "runs/quickstart",
        };
        var baseModel = new Option<string>("--model")
        {
            Description = "the model to adapt",
            DefaultValueFactory = _ => ShippedData.BaseModel,
        };
        var steps = new Option<int>("--pretrain-steps")
        {
            Description = "instead of --model, pre-train the small preset on the shipped SST-2 sentences for this many steps first " +
                "(1000 ≈ 7 minutes on 2 cores)",
        };
        var experiments = new Option<string>("--experiments")
        {
            Description = "folder of experiment files to compare",
            DefaultValueFactory = _ => "experiments/quickstart",
        };
        var command = new Command("quickstart",
            "Adapt the shipped base model to SST-2 by full fine-tuning, linear probe, LoRA and in-context learning, and compare them.")
        { output, baseModel, steps, experiments };
        command.SetAction(async (parse, cancel) =>
        {
            var dir = Path.GetFullPath(parse.GetValue(output)!);
            var files = ExperimentFiles(parse.GetValue(experiments)!);
            // Check every file before the long pre-training, so a typo fails in a second, not after minutes.
            var specs = files.Select(f => ExperimentFile.LoadValid(f, [])).ToList();
            int pretrainSteps = parse.GetValue(steps);
            if (pretrainSteps < 0) throw new OptionsException($"--pretrain-steps: must be ≥ 0, got {pretrainSteps}");
            if (pretrainSteps > 0 && parse.GetResult(baseModel) is { Implicit: false })
                throw new OptionsException("--model: not used with --pretrain-steps (the quickstart pre-trains its own model)");
            var checker = runners.Quiet();
            var model = pretrainSteps > 0 ? Path.Combine(dir, "model") : ShippedData.ModelPath(parse.GetValue(baseModel)!);
            var shape = pretrainSteps > 0 ? Presets.Small : Core.Checkpoints.GptCheckpoint.ReadConfig(model);
            foreach (var spec in specs) checker.Check(spec, shape);   // before any long work: a typo fails in a second

            if (pretrainSteps == 0) console.MarkupLineInterpolated($"[grey]adapting {model}[/]");
            else if (IsPretrained(model, pretrainSteps))
                console.MarkupLineInterpolated($"[grey]reusing the pre-trained model in {model}[/]");
            else
            {
                // The model folder is the quickstart's own cache: an interrupted pre-training of the same length goes on, anything
                // else there (another length, a run that never reached its first checkpoint) is replaced.
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
                var runner = runners.Create(spec.Name);
                var result = await runner.RunAsync(run, cancel);
                var summary = RunFiles.ReadSummary(result.Directory);
                rows.Add(new ComparisonRow(spec.Name, $"{summary.Task}/{summary.Dataset}", summary.TrainableParameters,
                    summary.PrimaryMetric, summary.PrimaryScore, result.Seconds, result.Directory)
                { TrainingMemoryMb = summary.TrainingMemoryMb });
            }
            if (rows.Count == 0 || cancel.IsCancellationRequested) return Cli.Cancelled;   // nothing finished to compare
            var majority = new ComparisonRow("majority-class", rows[0].Task, 0, "accuracy", MajorityBaseline(plugins.Value, specs[0]), 0);
            var written = ComparisonReport.Write(console, dir, "results", rows, majority, "SST-2 dev accuracy by adaptation method");
            console.MarkupLineInterpolated($"results: {string.Join(", ", written)}");
            return 0;
        });
        return command;
    }

    static IReadOnlyList<string> ExperimentFiles(string folder)
    {
        var resolved = Directory.Exists(folder) ? folder : ShippedData.RepoPath(folder);
        var files = Directory.GetFiles(resolved, "*.json").OrderBy(f => Order(Path.GetFileNameWithoutExtension(f))).ToList();
        return files.Count > 0 ? files : throw new UserInputException($"--experiments: no experiment files in {resolved}");
        static int Order(string name) => Array.IndexOf(["full", "probe", "lora", "in-context"], name) is var i and >= 0 ? i : 99;
    }

    /// <summary>A model folder whose checkpoint reached the asked number of steps is reused as it is.</summary>
    static bool IsPretrained(string model, int steps)
    {
        var state = Path.Combine(model, Pretrainer.CheckpointDir, "trainer_state.json");
        if (!File.Exists(state)) return false;
        try { return JsonDocument.Parse(File.ReadAllText(state)).RootElement.GetProperty("Step").GetInt32() >= steps; }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointException($"{state}: unreadable trainer state ({e.Message}); delete the folder to pre-train again");
        }
    }

    /// <summary>Accuracy of always answering the most frequent training label: the bar every method must clear.</summary>
    static double MajorityBaseline(PluginCatalog catalog, ExperimentSpec spec)
    {
        var task = catalog.Get<ITaskPlugin>(PluginKind.Task, spec.Task.Name, "task.name");
        var data = task.Load(new TaskContext(spec.Task.OptionsElement(), ShippedData.Path(), spec.Seed));
        int majority = data.Train.GroupBy(e => e.Label).MaxBy(g => g.Count())!.Key;
        return data.Dev.Count(e => e.Label == majority) / (double)data.Dev.Count;
    }
}
