using System.Globalization;
using System.Security.Cryptography;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training;

/// <summary>
/// A token stream split into train and held-out parts. Batches are windows at positions drawn from a generator
/// seeded by (seed, step), so step N's batch is the same in a fresh run and in a resumed one.
/// </summary>
public sealed class TokenDataset
{
    public int[] Train { get; }
    public int[] Validation { get; }

    public TokenDataset(int[] tokens, double validationFraction)
    {
        int split = (int)(tokens.Length * (1 - validationFraction));
        Train = tokens[..split];
        Validation = tokens[split..];
    }

    /// <summary>Inputs and next-token targets, each [batch, block].</summary>
    public (Tensor Inputs, Tensor Targets) Batch(bool validation, int index, int batchSize, int block, int seed, Device device)
    {
        var source = validation ? Validation : Train;
        if (source.Length <= block + 1)
            throw new DataException($"the {(validation ? "held-out" : "training")} split has {source.Length} tokens, " +
                $"fewer than one block of {block + 1}: use a larger corpus or a smaller context");
        var rng = new Random(StableSeed(seed, validation ? 1 : 0, index));   // HashCode is salted per process: not reproducible
        var x = new long[batchSize * block];
        var y = new long[batchSize * block];
        for (int b = 0; b < batchSize; b++)
        {
            int start = rng.Next(0, source.Length - block - 1);
            for (int t = 0; t < block; t++) { x[b * block + t] = source[start + t]; y[b * block + t] = source[start + t + 1]; }
        }
        return (torch.tensor(x, [batchSize, block], device: device), torch.tensor(y, [batchSize, block], device: device));
    }

    /// <summary>SplitMix64 over the three values: the same seed on every run and machine.</summary>
    public static int StableSeed(long a, long b, long c)
    {
        ulong z = (ulong)a * 0x9E3779B97F4A7C15UL ^ (ulong)b * 0xBF58476D1CE4E5B9UL ^ (ulong)c * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    /// <summary>Writes the token cache and, beside it, its length and SHA-256 (<c>.sha256</c>), so a truncated or damaged cache
    /// is noticed instead of trained on.</summary>
    public static void SaveTokens(string path, int[] tokens)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(tokens.AsSpan()).ToArray();
        AtomicFile.Write(path, s => s.Write(bytes));
        AtomicFile.WriteAllText(path + ".sha256", $"{tokens.Length} {Convert.ToHexString(SHA256.HashData(bytes))}");
    }

    /// <summary>The cached tokens, or null when the cache or its check file is missing or they disagree.</summary>
    public static int[]? TryLoadTokens(string path)
    {
        var check = path + ".sha256";
        if (!File.Exists(path) || !File.Exists(check)) return null;
        var bytes = File.ReadAllBytes(path);
        var expected = File.ReadAllText(check).Trim().Split(' ');
        bool whole = bytes.Length % sizeof(int) == 0 && expected.Length == 2
            && expected[0] == (bytes.Length / sizeof(int)).ToString(CultureInfo.InvariantCulture);
        if (!whole || !expected[1].Equals(Convert.ToHexString(SHA256.HashData(bytes)), StringComparison.Ordinal)) return null;
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes).ToArray();
    }
}
