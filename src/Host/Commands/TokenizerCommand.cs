using System.CommandLine;
using PluginGpt.Core.Corpora;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt tokenizer train|encode</c>: learn a byte-level BPE on text files; show ids for a text.</summary>
public sealed class TokenizerCommand : ICliCommand
{
    public Command Build() =>
        new("tokenizer", "Train, apply or measure a byte-level BPE tokenizer.") { Train(), Encode(), Stats() };

    static Command Train()
    {
        var corpus = new Option<string[]>("--corpus")
        {
            Description = "corpora to learn merges from, PATH[:WEIGHT][:lines] as pretrain reads them",
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
        var sample = new Option<double>("--sample-mb")
        {
            Description = "MB of text to learn from, split between the corpora by weight",
            DefaultValueFactory = _ => new PretrainOptions { OutputDirectory = "" }.TokenizerSampleMegabytes,
        };
        var train = new Command("train", "Learn a byte-level BPE (GPT-2 file format).") { corpus, size, output, overwrite, sample };
        train.SetAction((parse, cancel) =>
        {
            var sources = parse.GetValue(corpus)!.Select(CorpusSource.Parse).ToList();
            foreach (var f in sources) if (!File.Exists(f.Path)) throw new UserInputException($"--corpus: {f.Path} not found");
            double megabytes = parse.GetValue(sample);
            if (!(megabytes > 0) || !double.IsFinite(megabytes))
                throw new OptionsException($"--sample-mb: must be positive, got {megabytes}");
            // A model folder's tokenizer is part of the model: replacing it silently would make its weights read other tokens.
            var existing = new[] { "vocab.json", "merges.txt" }.Select(f => Path.Combine(parse.GetValue(output)!, f))
                .FirstOrDefault(File.Exists);
            if (existing is not null && !parse.GetValue(overwrite))
                throw new OptionsException(
                    $"--out: {existing} exists (a tokenizer, perhaps a model's); choose another --out or pass --overwrite");
            // A folder another process writes (a pre-training that trains its tokenizer there) is never written into, even with
            // --overwrite; the lock is held while the files are replaced.
            using var held = OutputLock.Acquire(Path.GetFullPath(parse.GetValue(output)!), "--out");
            var texts = TokenizerSample.Texts(sources, (long)(megabytes * 1e6));
            var tokenizer = BpeTrainer.Train(texts, parse.GetValue(size), parse.GetValue(output)!, cancel: cancel);
            Console.WriteLine($"{tokenizer.VocabSize} tokens written to {Path.GetFullPath(parse.GetValue(output)!)}");
            return Task.FromResult(0);
        });

        return train;
    }

    static Command Encode()
    {
        var folder = new Option<string>("--tokenizer") { Description = "tokenizer or model folder", Required = true };
        var text = new Option<string>("--text") { Required = true };
        var encode = new Command("encode", "Print the token ids of a text.") { folder, text };
        encode.SetAction(parse =>
        {
            Console.WriteLine(string.Join(" ", ModelTokenizer.Load(parse.GetValue(folder)!).Encode(parse.GetValue(text)!)));
            return 0;
        });
        return encode;
    }

    static Command Stats()
    {
        var statsTokenizer = new Option<string>("--tokenizer") { Description = "tokenizer or model folder", Required = true };
        var statsCorpus = new Option<string[]>("--corpus")
        {
            Description = "corpora to measure, PATH[:WEIGHT][:lines]",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var limit = new Option<double>("--max-mb") { Description = "MB of each corpus to read", DefaultValueFactory = _ => 4 };
        var stats = new Command("stats", "Bytes per token of a tokenizer on corpora (how well it compresses them).")
        {
            statsTokenizer, statsCorpus, limit,
        };
        stats.SetAction(parse =>
        {
            var tokenizer = ModelTokenizer.Load(parse.GetValue(statsTokenizer)!);
            foreach (var source in parse.GetValue(statsCorpus)!.Select(CorpusSource.Parse))
            {
                var texts = TokenizerSample.Texts([source], (long)(parse.GetValue(limit) * 1e6)).ToList();
                long bytes = texts.Sum(t => (long)System.Text.Encoding.UTF8.GetByteCount(t));
                long tokens = texts.AsParallel().Sum(t => (long)tokenizer.Encode(t).Length);
                Console.WriteLine($"{source.Name}: {bytes:N0} bytes, {tokens:N0} tokens, {(double)bytes / tokens:F3} bytes/token");
            }
            return 0;
        });
        return stats;
    }
}
