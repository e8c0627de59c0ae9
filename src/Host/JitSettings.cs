namespace PluginGpt.Host;

/// <summary>How the .NET JIT compiles this process, for <c>doctor</c>: plugingpt.runtimeconfig.json turns dynamic PGO off
/// (Host.csproj says why); <c>DOTNET_</c> (or the older <c>COMPlus_</c>) variables override it, as they do for the runtime.
/// </summary>
static class JitSettings
{
    public static string Describe()
    {
        var tiered = Setting("TieredCompilation", "System.Runtime.TieredCompilation");
        if (tiered.Value is false) return $"not tiered: every method compiled optimised at its first call ({tiered.Source})";
        var pgo = Setting("TieredPGO", "System.Runtime.TieredPGO");
        return $"tiered, dynamic PGO {(pgo.Value is false ? "off" : "on")} ({pgo.Source})";
    }

    /// <summary>A runtime switch: an environment variable (the runtime reads it as a hexadecimal number: 0 is off) before the
    /// runtimeconfig property, else the runtime's default (on).</summary>
    static (bool? Value, string Source) Setting(string variable, string property)
    {
        foreach (var prefix in (string[])["DOTNET_", "COMPlus_"])
            if (Environment.GetEnvironmentVariable(prefix + variable) is { } value)
                return (!(int.TryParse(value, System.Globalization.NumberStyles.HexNumber, null, out var n) && n == 0),
                    $"{prefix}{variable}={value}");
        return AppContext.GetData(property)?.ToString() is { } configured
            ? (!string.Equals(configured, "false", StringComparison.OrdinalIgnoreCase), "plugingpt.runtimeconfig.json")
            : (null, "the runtime's default");
    }
}
