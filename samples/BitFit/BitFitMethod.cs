using System.Text.Json;
using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;

namespace PluginGpt.Samples.BitFit;

/// <summary>
/// <c>bitfit</c> (Ben Zaken et al., 2021): freeze every weight, train only the bias terms. A complete adaptation
/// method in one file, shipped as its own assembly: the host finds it with <c>--plugins</c>.
/// </summary>
public sealed class BitFitMethod : IAdaptationMethod
{
    public PluginManifest Manifest { get; } = new("bitfit", PluginKind.Method, "1.0.0", "BitFit: trains only the bias terms of the decoder.");

    /// <summary>Options of <c>method.options</c> (snake_case in JSON).</summary>
    public sealed record Options
    {
        /// <summary>Also train LayerNorm biases (default true; false keeps to Linear biases).</summary>
        public bool IncludeNorms { get; init; } = true;
    }

    public IAttachedMethod Attach(IDecoder model, JsonElement options)
    {
        var o = PluginOptions.Bind<Options>(options, "method.options");
        var trainable = new List<(string, Parameter)>();
        foreach (var (name, p) in model.Module.named_parameters())
        {
            bool train = name.EndsWith(".bias") && (o.IncludeNorms || !name.Contains(".ln_"));
            p.requires_grad = train;
            if (train) trainable.Add((name, p));
        }
        return new Attached(trainable);
    }

    sealed class Attached(IReadOnlyList<(string Name, Parameter Parameter)> trainable) : IAttachedMethod
    {
        const string File = "bitfit.bin";
        public IReadOnlyList<(string Name, Parameter Parameter)> Trainable => trainable;

        public void Save(string directory)
        {
            using var writer = new BinaryWriter(System.IO.File.Create(Path.Combine(directory, File)));
            writer.Write(trainable.Count);
            foreach (var (name, p) in trainable) { writer.Write(name); p.Save(writer); }
        }

        public void Load(string directory)
        {
            using var reader = new BinaryReader(System.IO.File.OpenRead(Path.Combine(directory, File)));
            int count = reader.ReadInt32();
            var byName = trainable.ToDictionary(t => t.Name, t => t.Parameter);
            using var _ = torch.no_grad();
            for (int i = 0; i < count; i++)
            {
                var name = reader.ReadString();
                if (!byName.TryGetValue(name, out var p)) throw new InvalidDataException($"{File}: unexpected tensor '{name}'");
                p.Load(reader);
            }
        }

        public bool CanMerge => false;
        public void Merge() { }
        public void Unmerge() { }
        public void Dispose() { }
    }
}
