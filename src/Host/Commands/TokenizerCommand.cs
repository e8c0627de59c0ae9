using System.CommandLine;
using PluginGpt.Core.Tokenization;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt tokenizer train|encode</c>: learn a byte-level BPE on text files; show ids for a text.</summary>
public sealed class TokenizerCommand : ICliCommand
{
    public Command Build()
    {
        var corpus = new Option<string[]>("--corpus")
        {
            Description = "text file(s) to learn merges from",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var size = new Option<int>("--vocab-size")
        {
            Description = "256 bytes + merges + 5 special tokens",
            DefaultValueFactory = _ => 4096,
        };
        var output = new Option<string>("--out") { Description = "folder for vocab.json + merges.txt", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "replace the vocab.json + merges.txt already in --out" };
        var train = new Command("train", "Learn a byte-level BPE (GPT-2 file format).") { corpus, size, output, overwrite };
        train.SetAction((parse, cancel) =>
        {
            var files = parse.GetValue(corpus)!;
            foreach (var f in files) if (!File.Exists(f)) throw new UserInputException($"--corpus: {f} not found");
            // A model folder's tokenizer is part of the model: replacing it silently would make its weights read other tokens.
            var existing = new[] { "vocab.json", "merges.txt" }.Select(f => Path.Combine(parse.GetValue(output)!, f))
                .FirstOrDefault(File.Exists);
            if (existing is not null && !parse.GetValue(overwrite))
                throw new OptionsException(
                    $"--out: {existing} exists (a tokenizer, perhaps a model's); choose another --out or pass --overwrite");
            var tokenizer = BpeTrainer.Train(files.Select(File.ReadAllText), parse.GetValue(size), parse.GetValue(output)!, cancel: cancel);
            Console.WriteLine($"{tokenizer.VocabSize} tokens written to {Path.GetFullPath(parse.GetValue(output)!)}");
            return Task.FromResult(0);
        });

        var folder = new Option<string>("--tokenizer") { Description = "tokenizer or model folder", Required = true };
        var text = new Option<string>("--text") { Required = true };
        var encode = new Command("encode", "Print the token ids of a text.") { folder, text };
        encode.SetAction(parse =>
        {
            Console.WriteLine(string.Join(" ", ModelTokenizer.Load(parse.GetValue(folder)!).Encode(parse.GetValue(text)!)));
            return 0;
        });
        return new Command("tokenizer", "Train or apply a byte-level BPE tokenizer.") { train, encode };
    }
}
