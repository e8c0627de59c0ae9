using System.CommandLine;
using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Runs;
using TorchSharp;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt generate</c>: prints the prompt and its continuation on stdout as tokens arrive, from a model folder or from
/// a fine-tuning run (the base model with the run's method weights: LoRA, adapters, prompt, prefix).</summary>
public sealed class GenerateCommand(ExperimentRunnerFactory runners) : ICliCommand
{
    readonly Option<string?> model = new("--model")
    {
        Description = "model folder (config.json, model.safetensors, vocab.json, merges.txt)",
    };
    readonly Option<string?> run = new("--run")
    {
        Description = "a finished run's folder: its base model with its method's best weights (device and precision as it ran)",
    };
    readonly Option<bool> template = new("--template")
    {
        Description = "with --run: put the prompt into the run's input template (text-to-text: task prefix and separator)",
    };
    readonly Option<string?> task = new("--task") { Description = "with --run --template on a multi-task run: which task's template" };
    readonly Option<string?> promptB = new("--prompt-b") { Description = "with --template: the second text of a pair task" };
    readonly Option<string> prompt = new("--prompt") { Description = "text to continue", Required = true };
    readonly Option<int> maxNew = new("--max-new-tokens") { DefaultValueFactory = _ => 64 };
    readonly Option<bool> greedy = new("--greedy") { Description = "always take the most likely token" };
    readonly Option<double> temperature = new("--temperature") { DefaultValueFactory = _ => 1.0 };
    readonly Option<int> topK = new("--top-k") { Description = "0 = off", DefaultValueFactory = _ => 0 };
    readonly Option<double> topP = new("--top-p") { Description = "1 = off", DefaultValueFactory = _ => 1.0 };
    readonly Option<double> penalty = new("--repetition-penalty")
    {
        Description = "1 = off; 1.2 is typical",
        DefaultValueFactory = _ => 1.0,
    };
    readonly Option<ulong> seed = new("--seed") { DefaultValueFactory = _ => 1234UL };
    readonly Option<string[]> stop = new("--stop") { Description = "stop when the continuation contains this text (repeatable)" };
    readonly Option<bool> noCache = new("--no-kv-cache") { Description = "recompute the whole sequence each step" };
    readonly Option<string> device = new("--device") { DefaultValueFactory = _ => "cpu" };
    readonly Option<string> precision = GlobalOptions.Precision();
    readonly AdapterOptions adapters = new();

    public Command Build()
    {
        var command = new Command("generate", "Continue a prompt with a trained model or a fine-tuning run.")
        {
            model, run, template, task, promptB, prompt, maxNew, greedy, temperature, topK, topP, penalty, seed, stop, noCache, device,
            precision, adapters.Adapters, adapters.Active,
        };
        command.SetAction((parse, cancel) => Task.FromResult(Generate(parse, cancel)));
        return command;
    }

    /// <summary>The options checked (before the prompt is echoed: a bad option prints nothing on stdout), then the prompt
    /// continued by a finished run, the active named run, or a model folder.</summary>
    int Generate(ParseResult parse, CancellationToken cancel)
    {
        bool named = CheckSources(parse);
        var options = new GenerationOptions
        {
            MaxNewTokens = parse.GetValue(maxNew),
            Greedy = parse.GetValue(greedy),
            Temperature = parse.GetValue(temperature),
            TopK = parse.GetValue(topK),
            TopP = parse.GetValue(topP),
            RepetitionPenalty = parse.GetValue(penalty),
            Seed = parse.GetValue(seed),
            UseKvCache = !parse.GetValue(noCache),
        };
        options.Validate();
        var stops = parse.GetValue(stop) ?? [];
        var text = parse.GetValue(prompt)!;
        if (parse.GetValue(run) is { } checkedRun && parse.GetValue(template))
            CheckTexts(checkedRun, parse.GetValue(task), parse.GetValue(promptB));
        int FromRun(OpenedRun opened)
        {
            if (named && parse.GetValue(template)) CheckTexts(opened.Directory, null, parse.GetValue(promptB));   // the active run's
            opened.Model.eval();
            var input = !parse.GetValue(template) ? Prompt(opened.Tokenizer, text)
                : opened.Objective(parse.GetValue(task)).PromptTokens(Example(text, parse.GetValue(promptB)))
                    ?? throw new OptionsException($"--template: the run's objective '{opened.Spec.Objective.Name}' has no input template");
            return Stream(opened.Model, opened.Tokenizer, input, options, stops, cancel);
        }
        if (parse.GetValue(run) is { } runDir) return runners.Finished().Open(runDir, FromRun);
        if (named) return adapters.OpenActive(runners.Finished(), parse, FromRun);
        return FromModel(parse, text, options, stops, cancel);
    }

    /// <summary>Exactly one source (a model folder, a run, named runs), and a template only with a run; whether named runs are
    /// given.</summary>
    bool CheckSources(ParseResult parse)
    {
        if ((parse.GetValue(stop) ?? []).Any(s => s.Length == 0))
            throw new OptionsException("--stop: an empty text would stop at once; give the text to stop at");
        bool named = adapters.Named(parse).Count > 0;
        if (new[] { parse.GetValue(model) is not null, parse.GetValue(run) is not null, named }.Count(given => given) != 1)
            throw new OptionsException("--model / --run / --adapter: give exactly one (a model folder, a finished run's folder, " +
                "or named runs)");
        bool wantsRun = parse.GetValue(template) || parse.GetValue(task) is not null || parse.GetValue(promptB) is not null;
        if (parse.GetValue(run) is null && !named && wantsRun)
            throw new OptionsException("--template: a run's template needs --run (or --adapter)");
        return named;
    }

    /// <summary>A model folder on the chosen device; in bf16 its weights themselves are converted once (inference needs no fp32
    /// master weights), so no step casts them.</summary>
    int FromModel(ParseResult parse, string text, GenerationOptions options, IReadOnlyList<string> stops, CancellationToken cancel)
    {
        var dir = ShippedData.ModelPath(parse.GetValue(model)!);
        var tokenizer = ModelTokenizer.Load(dir);
        tokenizer.CheckFits(GptCheckpoint.ReadConfig(dir), dir);
        var target = DeviceSelector.Parse(parse.GetValue(device)!);
        using var decoder = GptCheckpoint.Load(dir, target);
        var choice = PrecisionSelector.Resolve(parse.GetValue(precision)!, target);
        if (choice.ComputeType is { } compute) decoder.to(compute);
        using var region = Autocast.Use(choice.ComputeType);
        return Stream(decoder, tokenizer, Prompt(tokenizer, text), options, stops, cancel);
    }

    /// <summary>A prompt as the model saw whole sequences in training: behind its BOS token where it has one (Llama).</summary>
    static int[] Prompt(ITokenizer tokenizer, string text) =>
        tokenizer.BeginningOfSequence is { } bos ? [bos, .. tokenizer.EncodeStart(text)] : tokenizer.EncodeStart(text);

    /// <summary>A pair task's template needs both texts: an empty second text would be filled in silently.</summary>
    void CheckTexts(string runDir, string? task, string? second)
    {
        var config = Path.Combine(runDir, "config.json");
        if (!File.Exists(config)) return;   // Open says what is wrong with the folder
        var format = runners.Finished().LoadTask(ExperimentFile.Load(config, []), task, runDir).Format;
        bool pair = format is InputFormat.Pair or InputFormat.SymmetricPair;
        if (pair && string.IsNullOrWhiteSpace(second))
            throw new OptionsException("--prompt-b: this run's task takes a pair of texts; give the second with --prompt-b");
        if (!pair && second is not null)
            throw new OptionsException("--prompt-b: this run's task takes one text; leave --prompt-b out");
    }

    static Example Example(string text, string? second) => new(second is null ? [text] : [text, second]);

    /// <summary>Writes the prompt <paramref name="ids"/> and its continuation to stdout as tokens arrive, up to a stop text or the end
    /// of text.</summary>
    static int Stream(Decoder decoder, ITokenizer tokenizer, int[] ids, GenerationOptions options, IReadOnlyList<string> stops,
        CancellationToken cancel)
    {
        options = options with { StopTokens = [tokenizer.EndOfText], VocabularyLimit = tokenizer.VocabSize };
        var stdout = Console.Out;
        var prompt = tokenizer.Decode(ids);
        stdout.Write(prompt);
        // The continuation is the decoded whole minus the decoded prompt: a SentencePiece continuation decoded alone would lose
        // its first space (taken for the prefix of a text's start).
        string Continuation(List<int> generated)
        {
            var whole = tokenizer.Decode(ids.Concat(generated));
            return whole.StartsWith(prompt, StringComparison.Ordinal) ? whole[prompt.Length..] : tokenizer.Decode(generated);
        }
        var generated = new List<int>();
        string printed = "";
        bool stopped = false;
        foreach (int token in TokenGenerator.Generate(decoder, ids, options))
        {
            if (cancel.IsCancellationRequested) break;
            generated.Add(token);
            var continuation = Continuation(generated);
            var hit = stops.Select(s => continuation.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            if (hit >= 0) continuation = continuation[..hit];
            // Hold back a tail that may yet become a stop text, and a character a token may have cut in half.
            var ready = hit >= 0 ? continuation : continuation[..^HeldBack(continuation, stops)];
            if (!ready.EndsWith('\uFFFD') && ready.Length > printed.Length && ready.StartsWith(printed, StringComparison.Ordinal))
            {
                stdout.Write(ready[printed.Length..]);
                printed = ready;
            }
            if (hit >= 0) { stopped = true; break; }
        }
        var final = Continuation(generated);
        if (!stopped && final.Length > printed.Length && final.StartsWith(printed, StringComparison.Ordinal))
            stdout.Write(final[printed.Length..]);
        stdout.WriteLine();
        return 0;
    }

    /// <summary>Length of the longest end of <paramref name="text"/> that begins one of the stop texts.</summary>
    static int HeldBack(string text, IReadOnlyList<string> stops)
    {
        int longest = 0;
        foreach (var stop in stops)
            for (int n = Math.Min(stop.Length - 1, text.Length); n > longest; n--)
                if (text.EndsWith(stop[..n], StringComparison.Ordinal)) { longest = n; break; }
        return longest;
    }
}
