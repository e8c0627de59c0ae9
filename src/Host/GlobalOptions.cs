using System.CommandLine;

namespace PluginGpt.Host;

/// <summary>Options every command accepts (recursive on the root command).</summary>
public static class GlobalOptions
{
    public static readonly Option<string[]> Plugins = new("--plugins")
    {
        Description = "extra plugin folder (repeatable); PLUGINGPT_PLUGINS adds more", Recursive = true, AllowMultipleArgumentsPerToken = false,
    };
    public static readonly Option<string?> Telemetry = new("--telemetry") { Description = "'console' prints spans and metrics; off by default", Recursive = true };
    public static readonly Option<string?> Otlp = new("--otlp") { Description = "OTLP endpoint (e.g. http://localhost:4317) for spans and metrics", Recursive = true };
}
