namespace PluginGpt.Host;

/// <summary>How the .NET JIT compiles this process, for <c>doctor</c>: plugingpt.runtimeconfig.json turns dynamic PGO off
/// (Host.csproj says why); a <c>DOTNET_TieredPGO</c> variable overrides that, as it does for the runtime.</summary>
static class JitSettings
{
    const string PgoVariable = "DOTNET_TieredPGO";

    public static string Describe()
    {
        var variable = Environment.GetEnvironmentVariable(PgoVariable);
        if (variable is "0" or "1") return $"tiered, dynamic PGO {(variable == "1" ? "on" : "off")} ({PgoVariable}={variable})";
        bool pgo = !string.Equals(AppContext.GetData("System.Runtime.TieredPGO")?.ToString(), "false", StringComparison.OrdinalIgnoreCase);
        return $"tiered, dynamic PGO {(pgo ? "on (the runtime's default)" : "off (plugingpt.runtimeconfig.json)")}";
    }
}
