using System.CommandLine;
using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Corpora;
using PluginGpt.Core.Tokenization;
using PluginGpt.Runs;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt evaluate-lm --model DIR --corpus SPEC…</c>: a language model's loss and perplexity on each corpus.</summary>
public sealed class EvaluateLmCommand(IAnsiConsole console) : ICliCommand
{
    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "model folder (or hf:ORG/NAME)", Required = true };
        var corpus = new Option<string[]>("--corpus")
        {
            Description = "text to score, PATH[:lines] as pretrain reads it (gzip or plain, .txt/.tsv/.jsonl)",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var maxTokens = new Option<long>("--max-tokens") { Description = "score at most this many tokens of each corpus (0 = all)" };
        var block = new Option<int>("--block-size") { Description = "window length (0 = the model's context)" };
        var json = new Option<bool>("--json") { Description = "print the results as JSON" };
        var precision = GlobalOptions.Precision("fp32");
        var command = new Command("evaluate-lm", "Next-token loss and perplexity of a model on text, window by window.")
        {
            model, corpus, maxTokens, block, json, precision,
        };
        command.SetAction((parse, cancel) =>
        {
            var folder = ShippedData.ModelPath(parse.GetValue(model)!);
            using var decoder = GptCheckpoint.Load(folder);
            var tokenizer = ModelTokenizer.Load(folder);
            tokenizer.CheckFits(decoder.Config, folder);
            int window = parse.GetValue(block) is > 0 and var b ? Math.Min(b, decoder.Config.Context) : decoder.Config.Context;
            var resolved = Core.PrecisionSelector.Resolve(parse.GetValue(precision)!, TorchSharp.torch.CPU);
            using var region = Autocast.Use(resolved.ComputeType);
            var results = new List<HeldOutLoss>();
            foreach (var source in parse.GetValue(corpus)!.Select(CorpusSource.Parse))
            {
                cancel.ThrowIfCancellationRequested();
                var tokens = CorpusTokenCache.Encode(source, tokenizer, cancel: cancel).Tokens;
                results.Add(HeldOutEvaluation.Evaluate(decoder, source.Name, tokens, window, maxTokens: parse.GetValue(maxTokens)));
            }
            if (parse.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(results.Select(r =>
                    new { corpus = r.Corpus, tokens = r.Tokens, loss = r.Loss, perplexity = r.Perplexity })));
                return Task.FromResult(0);
            }
            var table = new Table().AddColumns("corpus", "tokens", "loss", "perplexity");
            foreach (var r in results) table.AddRow(Markup.Escape(r.Corpus), $"{r.Tokens:N0}", $"{r.Loss:F4}", $"{r.Perplexity:F2}");
            console.Write(table);
            return Task.FromResult(0);
        });
        return command;
    }
}
