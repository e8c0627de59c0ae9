namespace PluginGpt.Core.Corpora;

/// <summary>The text a BPE learns its merges from: the first documents of each corpus, as many bytes of each as its mixture share
/// of <c>totalBytes</c> (a corpus smaller than its share gives all it has), so the vocabulary fits the mixture it will encode.</summary>
public static class TokenizerSample
{
    public static IEnumerable<string> Texts(IReadOnlyList<CorpusSource> sources, long totalBytes)
    {
        var shares = CorpusSource.Probabilities(sources);
        for (int i = 0; i < sources.Count; i++)
        {
            long budget = (long)(shares[i] * totalBytes), taken = 0;
            foreach (var piece in CorpusDocuments.Read(sources[i]))
            {
                if (taken >= budget) break;
                taken += System.Text.Encoding.UTF8.GetByteCount(piece.Text);
                yield return piece.Text;
            }
        }
    }
}
