using System.Globalization;

namespace PluginGpt.Core.Corpora;

/// <summary>
/// One pre-training corpus: a text, TSV or JSONL file (gzip or plain), its mixture weight, and how it splits into documents.
/// Written on the command line as <c>PATH[:WEIGHT][:lines]</c>: <c>wiki/train.txt.gz:0.6</c>, <c>imdb/unsup.txt.gz:0.4:lines</c>.
/// </summary>
public sealed record CorpusSource(string Path, double Weight = 1, bool LineDocuments = false)
{
    /// <summary>A short name for tables and metrics: the file name without <c>.gz</c> and extension, after its folder's name.</summary>
    public string Name
    {
        get
        {
            var file = System.IO.Path.GetFileName(Path);
            if (file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) file = file[..^3];
            var folder = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path)) ?? "");
            return string.IsNullOrEmpty(folder) ? System.IO.Path.GetFileNameWithoutExtension(file)
                : $"{folder}/{System.IO.Path.GetFileNameWithoutExtension(file)}";
        }
    }

    /// <summary>The spec as written back (for stored options and provenance), with the path made absolute.</summary>
    public string Spec => System.IO.Path.GetFullPath(Path) + ":" + Weight.ToString("R", CultureInfo.InvariantCulture)
        + (LineDocuments ? ":lines" : "");

    /// <summary>Reads <c>PATH[:WEIGHT][:lines]</c>. A path that exists as given is taken whole (a colon may be part of it).</summary>
    public static CorpusSource Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new OptionsException("--corpus: an empty corpus name");
        if (File.Exists(spec)) return new CorpusSource(spec);
        var parts = spec.Split(':');
        int end = parts.Length;
        bool lines = false;
        double weight = 1;
        bool weightSeen = false;
        // Up to two suffixes, in either order: a weight and the word "lines".
        for (int i = 0; i < 2 && end > 1; i++)
        {
            var suffix = parts[end - 1];
            if (suffix == "lines" && !lines) { lines = true; end--; }
            else if (!weightSeen && double.TryParse(suffix, NumberStyles.Float, CultureInfo.InvariantCulture, out var w))
            {
                if (!double.IsFinite(w) || w <= 0)
                    throw new OptionsException($"--corpus {spec}: the weight must be a positive finite number, got {suffix}");
                weight = w; weightSeen = true; end--;
            }
            else break;
        }
        return new CorpusSource(string.Join(':', parts[..end]), weight, lines);
    }

    /// <summary>Each corpus's share of training rows: its weight over the weights' sum.</summary>
    public static double[] Probabilities(IReadOnlyList<CorpusSource> sources)
    {
        double total = sources.Sum(s => s.Weight);
        return [.. sources.Select(s => s.Weight / total)];
    }
}
