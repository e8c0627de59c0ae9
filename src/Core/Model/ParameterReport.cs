using TorchSharp.Modules;

namespace PluginGpt.Core.Model;

/// <summary>Total and trainable parameter counts, overall and per top-level group (<c>wte</c>, <c>h.0</c>, …, <c>ln_f</c>).</summary>
public sealed record ParameterReport(long Total, long Trainable, IReadOnlyList<ParameterReport.Group> Groups)
{
    public sealed record Group(string Name, long Total, long Trainable);

    /// <summary>Counts distinct tensors once (a tied head adds nothing); a group is the name up to its block index.</summary>
    public static ParameterReport Of(IEnumerable<(string name, Parameter parameter)> named)
    {
        var distinct = ParameterSet.Distinct(named);
        var groups = distinct
            .GroupBy(p => GroupName(p.Name))
            .Select(g => new Group(g.Key, g.Sum(p => p.Parameter.numel()),
                g.Where(p => p.Parameter.requires_grad).Sum(p => p.Parameter.numel())))
            .ToList();
        return new ParameterReport(groups.Sum(g => g.Total), groups.Sum(g => g.Trainable), groups);
    }

    static string GroupName(string name)
    {
        var parts = name.Split('.');
        return parts[0] == "h" && parts.Length > 1 ? $"h.{parts[1]}" : parts[0];
    }
}
