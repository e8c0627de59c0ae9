using static TorchSharp.torch;

namespace PluginGpt.Abstractions;

/// <summary>Helps an objective report <see cref="IObjectiveInstance.LossParts"/>: its named loss terms as numbers.</summary>
public static class LossTerms
{
    /// <summary>Each term's value (read in fp32, as the loss itself is); the terms should add up to the loss returned.</summary>
    public static IReadOnlyDictionary<string, double> Read(params (string Name, Tensor Term)[] terms) =>
        terms.ToDictionary(t => t.Name, t => (double)Autocast.Float(t.Term).item<float>());
}
