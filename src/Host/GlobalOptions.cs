using System.CommandLine;

namespace PluginGpt.Host;

/// <summary>Options every command accepts (recursive on the root command).</summary>
public static class GlobalOptions
{
    public static Option<string[]> Plugins() => new("--plugins")
    {
        Description = "extra plugin folder (repeatable); PLUGINGPT_PLUGINS adds more",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
    };
    public static Option<string?> Telemetry() => new("--telemetry")
    {
        Description = "'console' prints spans and metrics; off by default",
        Recursive = true,
    };
    public static Option<string?> Otlp() => new("--otlp")
    {
        Description = "OTLP endpoint (e.g. http://localhost:4317) for spans and metrics",
        Recursive = true,
    };

    public static Option<string?> Results() => new("--results")
    {
        Description = $"results database every run is recorded in (default {Runs.Results.ResultsStore.DefaultPath}, or " +
            "PLUGINGPT_RESULTS; 'none' records nothing)",
        Recursive = true,
    };

    /// <summary>The global options' values, read before the container is built: they decide which plugins and exporters exist.
    /// <paramref name="Results"/> is the results database (null: record nothing).</summary>
    public sealed record Values(IReadOnlyList<string> PluginFolders, string? Telemetry, Uri? Otlp, string? Results = null)
    {
        /// <summary>These values as command-line arguments that <see cref="Read"/> turns back into them, for a process started
        /// elsewhere (a Slurm array task): paths absolute, every plugin folder named, no results database as <c>none</c>.</summary>
        public IReadOnlyList<string> ToArguments()
        {
            var args = new List<string>();
            foreach (var folder in PluginFolders) args.AddRange(["--plugins", Path.GetFullPath(folder)]);
            args.AddRange(["--results", Results is { } db ? Path.GetFullPath(db) : "none"]);
            if (Telemetry is { } mode) args.AddRange(["--telemetry", mode]);
            if (Otlp is { } endpoint) args.AddRange(["--otlp", endpoint.ToString()]);
            return args;
        }
    }

    /// <summary>Reads only the global options (everything else is the command tree's, parsed later); bad values are the user's to
    /// fix.</summary>
    public static Values Read(string[] args)
    {
        Option<string[]> plugins = Plugins();
        Option<string?> telemetry = Telemetry(), otlp = Otlp(), results = Results();
        var root = new RootCommand { plugins, telemetry, otlp, results };
        root.TreatUnmatchedTokensAsErrors = false;
        var parse = root.Parse(args);
        var explicitFolders = parse.GetValue(plugins) ?? [];
        foreach (var folder in explicitFolders)
            if (!Directory.Exists(folder)) throw new OptionsException($"--plugins: folder {Path.GetFullPath(folder)} not found");
        var mode = parse.GetValue(telemetry);
        if (mode is not (null or "console")) throw new OptionsException($"--telemetry: expected 'console', got '{mode}'");
        Uri? endpoint = null;
        if (parse.GetValue(otlp) is { } url && !Uri.TryCreate(url, UriKind.Absolute, out endpoint))
            throw new OptionsException($"--otlp: '{url}' is not an absolute URI");
        var fromEnvironment = Environment.GetEnvironmentVariable("PLUGINGPT_RESULTS");
        var database = parse.GetValue(results) ?? (string.IsNullOrEmpty(fromEnvironment) ? null : fromEnvironment)
            ?? Runs.Results.ResultsStore.DefaultPath;
        if (database.Length == 0) throw new OptionsException("--results: give a database file, or 'none'");
        return new Values(Runs.Plugins.PluginFolders.Resolve(explicitFolders), mode, endpoint, database == "none" ? null : database);
    }

    /// <summary><c>--precision</c> of the commands that compute (pretrain, generate, bench, verify).</summary>
    public static Option<string> Precision(string defaultValue = "auto") => new("--precision")
    {
        Description = "fp32, bf16 (matmuls in bf16, fp32 master weights) or auto (bf16 where this device runs it ≥ 1.5× faster)",
        DefaultValueFactory = _ => defaultValue,
    };
}
