using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Corpora;

namespace PluginGpt.Core.Training;

/// <summary>Pre-training's output folder: who may claim it, and what <c>--overwrite</c> may empty.</summary>
public static partial class Pretrainer
{
    /// <summary>Written before a fresh run writes anything, removed by its first checkpoint: a folder holding it is what a run
    /// that failed early left (its tokenizer, token cache, first weights), which the corrected command may clear.</summary>
    public const string UnfinishedMarker = ".pretrain-started";

    /// <summary>What pre-training writes at the top of its folder; <c>--overwrite</c> empties a folder holding only these.</summary>
    static readonly HashSet<string> OwnEntries =
    [
        GptCheckpoint.ConfigFile, GptCheckpoint.WeightsFile, GptCheckpoint.IndexFile, "vocab.json", "merges.txt", "tokenizer.json",
        MetricsFile, "loss.png", "loss.md", ContaminationReport.FileName, CheckpointDir, TokensDir, UnfinishedMarker,
    ];

    /// <summary>A fresh run's folder must be new or empty (its lock aside), or hold what a failed start of a run left;
    /// <c>--overwrite</c> empties a pre-training folder first — and refuses a folder that holds anything else.</summary>
    static void ClaimFresh(string dir, bool overwrite, bool recovered, PretrainOptions o)
    {
        var entries = Directory.EnumerateFileSystemEntries(dir).Where(e => !OutputLock.IsLockFile(e)).ToList();
        bool leftovers = File.Exists(Path.Combine(dir, UnfinishedMarker)) && !recovered
            && !Directory.Exists(Path.Combine(dir, CheckpointDir)) && entries.All(e => OwnEntries.Contains(Path.GetFileName(e)));
        if (entries.Count > 0 && !leftovers)
        {
            if (!overwrite)
            {
                bool checkpoint = recovered || Directory.Exists(Path.Combine(dir, CheckpointDir));
                throw new OptionsException(checkpoint
                    ? $"--out: {dir} already holds a checkpoint; pass --resume to continue it, --overwrite to start afresh, " +
                      "or another --out"
                    : $"--out: {dir} already exists and is not empty; choose a new folder (or pass --overwrite to replace what it holds)");
            }
            // Emptying the folder must never take the run's own inputs, the working directory or anything it did not write.
            var inputs = o.Corpus.Select(c => CorpusSource.Parse(c).Path).Append(o.InitFrom)
                .Append(o.Tokenizer == "bpe" ? null : o.Tokenizer).Append(Environment.CurrentDirectory).OfType<string>();
            if (inputs.FirstOrDefault(i => Inside(Path.GetFullPath(i), dir)) is { } input)
                throw new OptionsException(
                    $"--overwrite: {Path.GetFullPath(input)} is inside --out {dir}, which --overwrite would empty; " +
                    "move it or choose another --out");
            if (entries.FirstOrDefault(e => !OwnEntries.Contains(Path.GetFileName(e))) is { } foreign)
                throw new OptionsException($"--overwrite: {dir} holds {Path.GetFileName(foreign)}, which pre-training did not write; " +
                    "--overwrite empties only a pre-training folder: move it or choose another --out");
        }
        foreach (var entry in entries)
        {
            // The token cache is keyed by corpus and tokenizer: a stale entry is never read, a valid one saves the encoding.
            if (Path.GetFileName(entry) == TokensDir) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
        File.WriteAllText(Path.Combine(dir, UnfinishedMarker), "");
    }

    static bool Inside(string path, string dir) =>
        path == dir || path.StartsWith(dir.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
