using TorchSharp.Modules;

namespace PluginGpt.Abstractions;

/// <summary>Parameter lists without repeats: a tied tensor yielded twice would be stepped twice by AdamW.</summary>
public static class ParameterSet
{
    /// <summary><paramref name="parameters"/> in order, each tensor once under the first name it came with.</summary>
    public static IReadOnlyList<(string Name, Parameter Parameter)> Distinct(IEnumerable<(string name, Parameter parameter)> parameters)
    {
        var seen = new HashSet<IntPtr>();
        return parameters.Where(p => seen.Add(p.parameter.Handle)).Select(p => (p.name, p.parameter)).ToArray();
    }

    /// <summary>Elements of <paramref name="parameters"/>, a tensor seen twice counted once: what a report of trainable
    /// parameters should say.</summary>
    public static long Count(IEnumerable<Parameter> parameters)
    {
        var seen = new HashSet<IntPtr>();
        return parameters.Where(p => seen.Add(p.Handle)).Sum(p => p.numel());
    }
}
