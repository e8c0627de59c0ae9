using System.CommandLine;
using PluginGpt.Core;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Generation;
using PluginGpt.Core.Tokenization;
using TorchSharp;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt generate</c>: prints the prompt and its continuation on stdout as tokens arrive.</summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model")
        {
            Description = "model folder (config.json, model.safetensors, vocab.json, merges.txt)",
            Required = true,
        };
        var prompt = new Option<string>("--prompt") { Description = "text to continue", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 64 };
        var greedy = new Option<bool>("--greedy") { Description = "always take the most likely token" };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "0 = off", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "1 = off", DefaultValueFactory = _ => 1.0 };
        var penalty = new Option<double>("--repetition-penalty")
        {
            Description = "1 = off; 1.2 is typical",
            DefaultValueFactory = _ => 1.0,
        };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1234UL };
        var stop = new Option<string[]>("--stop") { Description = "stop when the continuation contains this text (repeatable)" };
        var noCache = new Option<bool>("--no-kv-cache") { Description = "recompute the whole sequence each step" };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "cpu" };
        var precision = GlobalOptions.Precision();

        var command = new Command("generate", "Continue a prompt with a trained model.")
        { model, prompt, maxNew, greedy, temperature, topK, topP, penalty, seed, stop, noCache, device, precision };
        command.SetAction(async (parse, cancel) =>
        {
            if ((parse.GetValue(stop) ?? []).Any(s => s.Length == 0))
                throw new OptionsException("--stop: an empty text would stop at once; give the text to stop at");
            var dir = parse.GetValue(model)!;
            var tokenizer = GptTokenizer.Load(dir);
            tokenizer.CheckFits(GptCheckpoint.ReadConfig(dir), dir);
            var target = DeviceSelector.Parse(parse.GetValue(device)!);
            using var decoder = GptCheckpoint.Load(dir, target);
            // Inference needs no fp32 master weights: in bf16 the weights themselves are converted once, so no step casts them.
            var choice = PrecisionSelector.Resolve(parse.GetValue(precision)!, target);
            if (choice.ComputeType is { } compute) decoder.to(compute);
            using var region = Autocast.Use(choice.ComputeType);
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
                StopTokens = [tokenizer.EndOfText],
            };
            options.Validate();   // before the prompt is echoed: a bad option prints nothing on stdout
            var stops = parse.GetValue(stop) ?? [];
            var text = parse.GetValue(prompt)!;
            var stdout = Console.Out;
            await stdout.WriteAsync(text);
            var generated = new List<int>();
            string printed = "";
            bool stopped = false;
            foreach (int token in TokenGenerator.Generate(decoder, tokenizer.Encode(text), options))
            {
                if (cancel.IsCancellationRequested) break;
                generated.Add(token);
                var continuation = tokenizer.Decode(generated);
                var hit = stops.Select(s => continuation.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
                if (hit >= 0) continuation = continuation[..hit];
                // Hold back a tail that may yet become a stop text, and a character a token may have cut in half.
                var ready = hit >= 0 ? continuation : continuation[..^HeldBack(continuation, stops)];
                if (!ready.EndsWith('\uFFFD') && ready.Length > printed.Length && ready.StartsWith(printed, StringComparison.Ordinal))
                {
                    await stdout.WriteAsync(ready[printed.Length..]);
                    printed = ready;
                }
                if (hit >= 0) { stopped = true; break; }
            }
            var final = tokenizer.Decode(generated);
            if (!stopped && final.Length > printed.Length && final.StartsWith(printed, StringComparison.Ordinal))
                await stdout.WriteAsync(final[printed.Length..]);
            await stdout.WriteLineAsync();
            return 0;
        });
        return command;
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
