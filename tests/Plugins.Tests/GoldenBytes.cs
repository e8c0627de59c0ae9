using System.Text;
using PluginGpt.Core.Checkpoints;
using TorchSharp;
using Decoder = PluginGpt.Core.Model.Decoder;

namespace PluginGpt.Plugins.Tests;

/// <summary>The golden PyTorch fixture with a byte-level stand-in tokenizer, for objectives that score text (PET, text-to-text).</summary>
public static class GoldenBytes
{
    /// <summary>One token per byte (ids &lt; 256), specials after them: every id fits the golden model's 512-token vocabulary.</summary>
    public sealed class ByteTokenizer : ITokenizer
    {
        public int VocabSize => 261;
        public int EndOfText => 256;
        public int Start => 257;
        public int Delimiter => 258;
        public int Extract => 259;
        public int Pad => 260;
        public int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
        public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Where(i => i < 256).Select(i => (byte)i).ToArray());
    }

    public static readonly ByteTokenizer Bytes = new();

    public static Decoder Model()
    {
        var m = GptCheckpoint.Load(Path.Combine(Repo.Root, "tests", "Core.Tests", "Fixtures", "golden-tiny-gpt2"));
        m.eval();
        return m;
    }

    /// <summary>log p(ids[t] | ids[..t]) summed over t ≥ from, one forward pass of the decoder itself.</summary>
    public static double LogLikelihood(Decoder model, int[] ids, int from)
    {
        using var _ = torch.no_grad();
        var logp = model.Logits(torch.tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0))[0].log_softmax(1);
        double sum = 0;
        for (int t = from; t < ids.Length; t++) sum += logp[t - 1, ids[t]].item<float>();
        return sum;
    }
}
