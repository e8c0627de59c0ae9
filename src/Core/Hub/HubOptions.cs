namespace PluginGpt.Core.Hub;

/// <summary>Where the hub cache lives and how to reach the hub. <see cref="FromEnvironment"/> reads the same variables as
/// huggingface_hub, so Python tools and this one share one cache; tests build the record directly.</summary>
public sealed record HubOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The hub cache root (the folder holding <c>models--ORG--NAME</c>).</summary>
    public required string CacheDir { get; init; }
    public string Endpoint { get; init; } = DefaultEndpoint;
    public string? Token { get; init; }
    /// <summary>HF_HUB_OFFLINE: never touch the network.</summary>
    public bool Offline { get; init; }
    /// <summary>Tries per file download before giving up; each retry resumes from the bytes already written.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Wait before retry n is n × this.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>No byte for this long counts as a dropped connection (HttpClient's own timeout does not cover a body).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>huggingface_hub's rules: cache = HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, where HF_HOME
    /// defaults to XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface; token = HF_TOKEN, else HUGGING_FACE_HUB_TOKEN,
    /// else the file HF_TOKEN_PATH or HF_HOME/token; HF_HUB_OFFLINE is true for 1, ON, YES or TRUE.</summary>
    public static HubOptions FromEnvironment(Func<string, string?>? getenv = null)
    {
        getenv ??= Environment.GetEnvironmentVariable;
        string? Var(string name) => getenv(name) is { Length: > 0 } v ? ExpandHome(v) : null;
        var home = Var("HF_HOME") ?? Path.Combine(Var("XDG_CACHE_HOME") ?? ExpandHome("~/.cache"), "huggingface");
        var tokenFile = Var("HF_TOKEN_PATH") ?? Path.Combine(home, "token");
        var token = Var("HF_TOKEN") ?? Var("HUGGING_FACE_HUB_TOKEN")
            ?? (File.Exists(tokenFile) ? File.ReadAllText(tokenFile).Trim() : null);
        return new HubOptions
        {
            CacheDir = Var("HF_HUB_CACHE") ?? Var("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub"),
            Endpoint = (Var("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            Token = string.IsNullOrEmpty(token) ? null : token,
            Offline = Var("HF_HUB_OFFLINE")?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE",
        };
    }

    static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..]
            : path;
}
