using System.CommandLine;
using PluginGpt.Core.Training;
using PluginGpt.Host.Display;
using PluginGpt.Runs;
using PluginGpt.Runs.Reports;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt pretrain</c>: next-token pre-training on text files into a model folder.</summary>
public sealed class PretrainCommand(IAnsiConsole console) : ICliCommand
{
    static readonly PretrainOptions defaults = new() { OutputDirectory = "" };
    readonly Option<string> preset = new("--preset")
    {
        Description = "model shape: tiny, small, gpt1, gpt2-small",
        DefaultValueFactory = _ => defaults.Preset,
    };
    readonly Option<string[]> corpus = new("--corpus")
    {
        Description = "corpora as PATH[:WEIGHT][:lines] (gzip or plain; .txt: a blank line ends a document, ':lines' makes " +
            "every line one; .tsv: its text column; .jsonl: its \"text\"); each training row draws its corpus by weight " +
            "(default: the shipped SST-2 sentences)",
        AllowMultipleArgumentsPerToken = true,
    };
    readonly Option<int> maxSteps = new("--max-steps") { Description = "optimizer steps", DefaultValueFactory = _ => defaults.MaxSteps };
    readonly Option<string> output = new("--out") { Description = "output model folder", Required = true };
    readonly Option<bool> resume = new("--resume")
    {
        Description = "continue the checkpoint in --out exactly where it stopped, with the options it was started with",
    };
    readonly Option<bool> overwrite = new("--overwrite")
    {
        Description = "start afresh in an --out that already holds something, emptying it",
    };
    readonly Option<string> tokenizer = new("--tokenizer")
    {
        Description = "'bpe' trains one on the corpus; or a folder with vocab.json + merges.txt",
        DefaultValueFactory = _ => defaults.Tokenizer,
    };
    readonly Option<int> batch = new("--batch-size") { DefaultValueFactory = _ => defaults.BatchSize };
    readonly Option<int> block = new("--block-size")
    {
        Description = "tokens per window (0 = model context)",
        DefaultValueFactory = _ => defaults.BlockSize,
    };
    readonly Option<double> lr = new("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => defaults.LearningRate };
    readonly Option<int> warmup = new("--warmup-steps") { DefaultValueFactory = _ => defaults.WarmupSteps };
    readonly Option<double> dropout = new("--dropout") { DefaultValueFactory = _ => defaults.Dropout };
    readonly Option<int> evalInterval = new("--eval-interval") { DefaultValueFactory = _ => defaults.EvalInterval };
    readonly Option<int> checkpointInterval = new("--checkpoint-interval") { DefaultValueFactory = _ => defaults.CheckpointInterval };
    readonly Option<int> seed = new("--seed") { DefaultValueFactory = _ => defaults.Seed };
    readonly Option<string> device = new("--device") { Description = "cpu, cuda or cuda:N", DefaultValueFactory = _ => defaults.Device };
    readonly Option<string> precision = GlobalOptions.Precision(defaults.Precision);
    readonly Option<string?> initFrom = new("--init-from")
    {
        Description = "continued pre-training: start from this model folder (PluginGpt's or Hugging Face GPT-2's), " +
            "keeping its tokenizer",
    };

    readonly Option<string?> tokenCache = new("--token-cache")
    {
        Description = "folder for encoded corpora, shared by runs (default: tokens/ in --out)",
    };
    readonly Option<double> sample = new("--tokenizer-sample-mb")
    {
        Description = "MB of the mixture (split by weight) a 'bpe' tokenizer learns from",
        DefaultValueFactory = _ => defaults.TokenizerSampleMegabytes,
    };
    readonly Option<double> heldOut = new("--validation-fraction")
    {
        Description = "the tail of each corpus held out for the held-out loss",
        DefaultValueFactory = _ => defaults.ValidationFraction,
    };
    readonly Option<int> evalBatches = new("--eval-batches")
    {
        Description = "held-out batches per corpus at each evaluation",
        DefaultValueFactory = _ => defaults.EvalBatches,
    };
    readonly ShapeOptions shape = new();

    public Command Build()
    {
        var command = new Command("pretrain", "Pre-train a decoder on text with teacher forcing (AdamW, warmup + cosine, clipping).")
        {
            preset, corpus, maxSteps, output, resume, tokenizer, batch, block, lr, warmup, dropout, evalInterval, checkpointInterval,
            seed, device, precision, initFrom, overwrite, tokenCache, sample, heldOut, evalBatches,
        };
        shape.AddTo(command);
        command.SetAction((parse, cancel) =>
        {
            var options = Read(parse);
            Show(TrainingDisplay.Run(console, "pretrain", options.MaxSteps, progress => Pretrainer.Run(options, progress, cancel)));
            return Task.FromResult(cancel.IsCancellationRequested ? Cli.Cancelled : 0);
        });
        return command;
    }

    /// <summary>The command line as <see cref="PretrainOptions"/>: a resumed run's stored options, each overridden only where
    /// the option is given explicitly; the defaults otherwise.</summary>
    PretrainOptions Read(ParseResult parse)
    {
        // --resume starts from the options stored with the checkpoint; only what is given explicitly is compared with them.
        var stored = parse.GetValue(resume) ? Pretrainer.StoredOptions(parse.GetValue(output)!) : null;
        T Pick<T>(Option<T> option, T before) => stored is null || parse.GetResult(option) is { Implicit: false }
            ? parse.GetValue(option)! : before;
        var start = stored ?? defaults;
        var files = parse.GetValue(corpus) is { Length: > 0 } given ? given : stored?.Corpus.ToArray() ?? ShippedData.DefaultCorpus();
        // The model folder brings its own shape and tokenizer: a preset or tokenizer given beside it would be ignored.
        var ignored = new Option[] { preset, tokenizer, sample }.Concat(shape.All)
            .FirstOrDefault(opt => parse.GetResult(opt) is { Implicit: false });
        if (parse.GetValue(initFrom) is not null && ignored is not null)
            throw new OptionsException($"{ignored.Name}: not used with --init-from (the model folder brings its shape and tokenizer)");
        double rate = Pick(lr, start.LearningRate);
        return start with
        {
            Preset = Pick(preset, start.Preset),
            Corpus = files,
            MaxSteps = Pick(maxSteps, start.MaxSteps),
            OutputDirectory = parse.GetValue(output)!,
            Resume = parse.GetValue(resume),
            Overwrite = parse.GetValue(overwrite),
            Tokenizer = Pick(tokenizer, start.Tokenizer),
            BatchSize = Pick(batch, start.BatchSize),
            BlockSize = Pick(block, start.BlockSize),
            LearningRate = rate,
            MinLearningRate = stored is not null && rate == stored.LearningRate ? stored.MinLearningRate : rate / 10,
            WarmupSteps = Pick(warmup, start.WarmupSteps),
            Dropout = Pick(dropout, start.Dropout),
            EvalInterval = Pick(evalInterval, start.EvalInterval),
            CheckpointInterval = Pick(checkpointInterval, start.CheckpointInterval),
            Seed = Pick(seed, start.Seed),
            Device = Pick(device, start.Device),
            Precision = Pick(precision, start.Precision),
            InitFrom = parse.GetValue(initFrom),
            Shape = shape.Given(parse) ?? start.Shape,
            ValidationFraction = Pick(heldOut, start.ValidationFraction),
            EvalBatches = Pick(evalBatches, start.EvalBatches),
            TokenCache = parse.GetValue(tokenCache) ?? stored?.TokenCache,
            TokenizerSampleMegabytes = Pick(sample, start.TokenizerSampleMegabytes),
            EvaluationTexts = ShippedData.EvaluationSets(),
        };
    }

    /// <summary>The run's figures: final and held-out losses, each corpus's, and where the model and its loss chart are.</summary>
    void Show(PretrainResult result)
    {
        var (png, md) = LossReport.Write(result.Directory);
        var table = new Table().AddColumns("steps", "train loss", "held-out loss", "perplexity", "tokens/s");
        table.AddRow($"{result.Steps}", $"{result.FinalTrainLoss:F3}", $"{result.FinalValidationLoss:F3}",
                     result.FinalValidationLoss is { } v ? $"{Math.Exp(v):F1}" : "-", $"{result.TokensPerSecond:N0}");
        console.Write(table);
        if (result.FinalCorpusLosses is { Count: > 1 } perCorpus)
        {
            var corpora = new Table().AddColumns("corpus", "held-out loss", "perplexity");
            foreach (var (name, loss) in perCorpus) corpora.AddRow(Markup.Escape(name), $"{loss:F3}", $"{Math.Exp(loss):F1}");
            console.Write(corpora);
        }
        console.MarkupLineInterpolated($"model: {result.Directory}  chart: {png}  table: {md}");
    }
}
