using System.IO.Compression;
using System.Text.Json;
using PluginGpt.Core.Corpora;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using TorchSharp;

namespace PluginGpt.Core.Tests;

public class CorpusTests
{
    static IModelTokenizer Tokenizer() => ModelTokenizer.Load(RepoPaths.Data("tokenizers", "en-4k"));

    static string Gzip(string plain)
    {
        var path = plain + ".gz";
        using (var output = new GZipStream(File.Create(path), CompressionLevel.Fastest)) using (var input = File.OpenRead(plain))
            input.CopyTo(output);
        return path;
    }

    [Theory]
    [InlineData("wiki.txt.gz:0.6", "wiki.txt.gz", 0.6, false)]
    [InlineData("unsup.txt.gz:lines", "unsup.txt.gz", 1.0, true)]
    [InlineData("unsup.txt.gz:0.25:lines", "unsup.txt.gz", 0.25, true)]
    [InlineData("unsup.txt.gz:lines:3", "unsup.txt.gz", 3.0, true)]
    [InlineData("C:/data/x.txt:2", "C:/data/x.txt", 2.0, false)]
    public void Corpus_specs_read_path_weight_and_document_rule(string spec, string path, double weight, bool lines)
    {
        var source = CorpusSource.Parse(spec);
        Assert.Equal((path, weight, lines), (source.Path, source.Weight, source.LineDocuments));
        Assert.Equal(source with { Path = Path.GetFullPath(path) }, CorpusSource.Parse(source.Spec));
    }

    [Theory]
    [InlineData("x.txt:0")]
    [InlineData("x.txt:-1")]
    [InlineData("x.txt:1e999")]
    public void Non_positive_or_infinite_weights_are_refused(string spec) =>
        Assert.Contains("weight", Assert.Throws<OptionsException>(() => CorpusSource.Parse(spec)).Message);

    [Fact]
    public void Mixture_rows_are_drawn_at_the_weights_rates()
    {
        // Three corpora with disjoint ids, so each row's tokens say which corpus it came from.
        int[] Stream(int offset) => [.. Enumerable.Range(0, 5000).Select(i => offset + i % 100)];
        var sources = new[] { new CorpusSource("a", 1), new CorpusSource("b", 3), new CorpusSource("c", 6) };
        var mixture = new CorpusMixture(sources, [Stream(0), Stream(100), Stream(200)], 0.1);
        Assert.Equal([0.1, 0.3, 0.6], mixture.Probabilities, (x, y) => Math.Abs(x - y) < 1e-12);   // closed form: w / Σw

        var counts = new int[3];
        const int steps = 400, rows = 16;
        for (int step = 0; step < steps; step++)
        {
            var expected = mixture.RowCorpora(step, rows, 8, seed: 7);
            using var scope = torch.NewDisposeScope();
            var (x, _) = mixture.TrainBatch(step, rows, 8, seed: 7, torch.CPU);
            var first = x[.., 0].data<long>().ToArray();
            for (int r = 0; r < rows; r++)
            {
                Assert.Equal(expected[r], (int)(first[r] / 100));
                counts[first[r] / 100]++;
            }
        }
        // 6,400 draws: each rate within 4 standard deviations of its weight's share.
        for (int c = 0; c < 3; c++)
        {
            double p = mixture.Probabilities[c], n = steps * rows;
            Assert.InRange(counts[c] / n, p - 4 * Math.Sqrt(p * (1 - p) / n), p + 4 * Math.Sqrt(p * (1 - p) / n));
        }
    }

    [Fact]
    public void Each_corpus_holds_out_its_own_tail()
    {
        var mixture = new CorpusMixture([new CorpusSource("a"), new CorpusSource("b")],
            [[.. Enumerable.Range(0, 100)], [.. Enumerable.Range(1000, 200)]], 0.1);
        Assert.Equal(Enumerable.Range(90, 10), mixture.Parts[0].Validation);
        Assert.Equal(Enumerable.Range(1180, 20), mixture.Parts[1].Validation);
    }

    [Fact]
    public void Gzip_and_plain_files_give_identical_token_streams()
    {
        using var dir = new TempDir();
        var plain = dir["wiki.txt"];
        File.WriteAllText(plain, "First article.\nIt has two lines.\n\nSecond article, one line.\n\n\nThird.\n");
        var tokenizer = Tokenizer();
        var fromPlain = CorpusTokenCache.Encode(new CorpusSource(plain), tokenizer).Tokens;
        var fromGzip = CorpusTokenCache.Encode(new CorpusSource(Gzip(plain)), tokenizer).Tokens;
        Assert.Equal(fromPlain, fromGzip);
        // Three documents, each closed by end-of-text; the two lines of the first stay one document.
        Assert.Equal(3, fromPlain.Count(t => t == tokenizer.EndOfText));
        Assert.Equal([.. tokenizer.Encode("First article.\nIt has two lines."), tokenizer.EndOfText],
            fromPlain.Take(Array.IndexOf(fromPlain, tokenizer.EndOfText) + 1));
    }

    [Fact]
    public void Documents_split_by_blank_lines_by_lines_by_tsv_rows_and_by_jsonl_objects()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a.txt"], "one\ntwo\n\nthree\n");
        File.WriteAllText(dir["b.tsv"], "label\ttext\n1\tgood film\n0\tbad film\n");
        File.WriteAllText(dir["c.jsonl"], "{\"text\": \"first\"}\n\n{\"text\": \"second\", \"label\": 1}\n");
        string[] Texts(CorpusSource s) => [.. CorpusDocuments.Read(s).Select(p => p.Text)];
        Assert.Equal(["one\ntwo", "three"], Texts(new CorpusSource(dir["a.txt"])));
        Assert.Equal(["one", "two", "three"], Texts(new CorpusSource(dir["a.txt"], LineDocuments: true)));
        Assert.Equal(["good film", "bad film"], Texts(new CorpusSource(dir["b.tsv"])));
        Assert.Equal(["first", "second"], Texts(new CorpusSource(dir["c.jsonl"])));
        File.WriteAllText(dir["d.tsv"], "label\tstars\n1\t5\n");
        Assert.Contains("no 'text'", Assert.Throws<DataException>(() => Texts(new CorpusSource(dir["d.tsv"]))).Message);
    }

    [Fact]
    public void A_document_longer_than_a_piece_streams_in_pieces_that_encode_as_one_document()
    {
        using var dir = new TempDir();
        var line = string.Concat(Enumerable.Repeat("word ", 40_000));   // 200,000 chars: twelve lines make more than one piece
        File.WriteAllText(dir["long.txt"], string.Join("\n", Enumerable.Repeat(line, 12)) + "\n\nshort\n");
        var pieces = CorpusDocuments.Read(new CorpusSource(dir["long.txt"])).ToList();
        Assert.True(pieces.Count >= 3);
        Assert.All(pieces, p => Assert.True(p.Text.Length <= CorpusDocuments.PieceChars + line.Length + 1));
        Assert.Equal(2, pieces.Count(p => p.StartsDocument));
        Assert.Equal(2, pieces.Count(p => p.EndsDocument));
        Assert.Equal(string.Join("\n", Enumerable.Repeat(line, 12)), string.Concat(pieces.SkipLast(1).Select(p => p.Text)).TrimEnd('\n'));
    }

    [Fact]
    public void The_token_cache_is_reused_and_rebuilt_when_the_corpus_or_tokenizer_changes()
    {
        using var dir = new TempDir();
        var corpus = dir["c.txt"];
        File.WriteAllText(corpus, "A small corpus.\n\nWith two documents.\n");
        var source = new CorpusSource(corpus);
        var tokenizer = Tokenizer();
        var notes = new List<string>();
        var fingerprint = CorpusTokenCache.Fingerprint(tokenizer);
        var first = CorpusTokenCache.Load(source, tokenizer, fingerprint, dir["cache"], note: notes.Add).Tokens;
        var again = CorpusTokenCache.Load(source, tokenizer, fingerprint, dir["cache"], note: notes.Add).Tokens;
        Assert.Equal(first, again);
        Assert.Single(notes);   // encoded once, then read from the cache

        File.AppendAllText(corpus, "\nA third one.\n");
        var changed = CorpusTokenCache.Load(source, tokenizer, fingerprint, dir["cache"], note: notes.Add).Tokens;
        Assert.Equal(2, notes.Count);
        Assert.Equal(CorpusTokenCache.Encode(source, tokenizer).Tokens, changed);

        var other = BpeTrainer.Train([File.ReadAllText(RepoPaths.Data("corpus", "tinyshakespeare.txt"))[..20_000]], 300, dir["bpe"]);
        var otherFingerprint = CorpusTokenCache.Fingerprint(other);
        Assert.NotEqual(fingerprint, otherFingerprint);
        var retokenised = CorpusTokenCache.Load(source, other, otherFingerprint, dir["cache"], note: notes.Add).Tokens;
        Assert.Equal(3, notes.Count);
        Assert.Equal(CorpusTokenCache.Encode(source, other).Tokens, retokenised);

        // A damaged cache file is noticed (length and checksum) and rebuilt, not trained on.
        var cached = Directory.GetFiles(dir["cache"], "*.tokens").Single(f => File.GetLastWriteTimeUtc(f) ==
            Directory.GetFiles(dir["cache"], "*.tokens").Max(File.GetLastWriteTimeUtc));
        File.WriteAllBytes(cached, File.ReadAllBytes(cached)[..8]);
        Assert.Equal(retokenised, CorpusTokenCache.Load(source, other, otherFingerprint, dir["cache"], note: notes.Add).Tokens);
        Assert.Contains("checksum", notes[^1]);
    }

    [Fact]
    public void A_document_holding_a_shipped_evaluation_text_is_left_out_and_reported()
    {
        using var dir = new TempDir();
        // An SST-2 dev sentence, written as a reviewer would (contractions joined, other case and punctuation).
        var devLine = File.ReadLines(RepoPaths.Data("sst2", "dev.tsv")).Skip(1)
            .Select(l => l.Split('\t')[1]).First(t => EvaluationTextIndex.Normalize(t).Length > 60);
        var rewritten = devLine.Replace(" n't", "n't").Replace(" 's", "'s").ToUpperInvariant();
        var corpus = dir["c.txt"];
        File.WriteAllText(corpus, $"A clean first document.\n\nSome context. {rewritten} More words.\n\nA clean third document.\n");
        var index = new EvaluationTextIndex([RepoPaths.Data("sst2", "dev.tsv"), RepoPaths.Data("rte", "dev.tsv")]);
        var encoded = CorpusTokenCache.Encode(new CorpusSource(corpus), Tokenizer(), index);
        var dropped = Assert.Single(encoded.Dropped);
        Assert.Equal(2, dropped.Document);
        Assert.EndsWith("dev.tsv", dropped.EvaluationFile);
        Assert.Equal(devLine, dropped.EvaluationText);
        Assert.Equal(2, encoded.Tokens.Count(t => t == Tokenizer().EndOfText));   // the two clean documents are kept

        // Short texts (a few words occur anywhere by chance) are not matched.
        Assert.Null(index.Find("it 's a good film ."));
    }

    [Fact]
    public void Pretraining_on_a_mixture_reports_each_corpus_held_out_loss_and_what_it_left_out()
    {
        using var dir = new TempDir();
        var shakespeare = File.ReadAllText(RepoPaths.Data("corpus", "tinyshakespeare.txt"));
        File.WriteAllText(dir["a.txt"], shakespeare[..40_000]);
        File.WriteAllText(dir["b.txt"], File.ReadAllText(RepoPaths.Data("corpus", "kjv.txt"))[..40_000]);
        var o = PretrainTests.Options(dir, dir["a.txt"], "run", 4) with
        {
            Corpus = [dir["a.txt"] + ":3", Gzip(dir["b.txt"]) + ":1"],
            EvaluationTexts = [RepoPaths.Data("sst2", "dev.tsv")],
        };
        var result = Pretrainer.Run(o);
        Assert.Equal(["corpus/a", "corpus/b"], result.FinalCorpusLosses!.Keys.Order().Select(k => k[(k.IndexOf('/') + 1)..] is var n
            ? "corpus/" + n : k).Order());
        var losses = result.FinalCorpusLosses!.Values.ToArray();
        Assert.Equal(0.75 * losses[0] + 0.25 * losses[1], result.FinalValidationLoss!.Value, 5);
        var report = ContaminationReport.Read(result.Directory)!;
        Assert.Equal(["sst2/dev.tsv"], report.EvaluationFiles);
        Assert.All(report.Dropped.Values, d => Assert.Empty(d));
        var line = JsonDocument.Parse(File.ReadLines(Path.Combine(result.Directory, "metrics.jsonl")).Last()).RootElement;
        Assert.Equal(2, line.GetProperty("eval").EnumerateObject().Count());
    }
}
