namespace PluginGpt.Abstractions;

/// <summary>Version of the plugin contracts; a plugin built against another major version is refused.</summary>
public static class ContractVersion
{
    /// <summary>Current major version of the contracts.</summary>
    public const int Major = 2;
}
