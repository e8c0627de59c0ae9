namespace DependencyLib;

/// <summary>A base class living in a separate assembly.</summary>
public abstract class MethodBase
{
    public string Origin => "DependencyLib";
}
