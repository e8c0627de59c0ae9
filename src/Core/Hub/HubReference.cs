using System.Text.RegularExpressions;

namespace PluginGpt.Core.Hub;

/// <summary>A <c>model.path</c> naming a Hugging Face hub model: <c>hf:ORG/NAME[@REVISION]</c> (revision defaults to
/// <c>main</c>; a 40-hex revision is a commit).</summary>
public sealed partial record HubReference(string RepoId, string Revision)
{
    public const string Prefix = "hf:";
    public const string DefaultRevision = "main";

    public static bool IsHubReference(string? path) => path is not null && path.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>True when the revision is a full commit sha (huggingface_hub's REGEX_COMMIT_HASH).</summary>
    public bool IsCommit => CommitHash().IsMatch(Revision);

    /// <summary>huggingface_hub's cache folder of the repository: <c>models--ORG--NAME</c>.</summary>
    public string FolderName => "models--" + RepoId.Replace("/", "--", StringComparison.Ordinal);

    public override string ToString() => $"{Prefix}{RepoId}@{Revision}";

    public static HubReference Parse(string reference)
    {
        if (!IsHubReference(reference))
            throw new UserInputException($"'{reference}' is not a hub reference (expected {Prefix}ORG/NAME[@REVISION])");
        var body = reference[Prefix.Length..];
        var at = body.IndexOf('@', StringComparison.Ordinal);
        var repo = at < 0 ? body : body[..at];
        var revision = at < 0 ? DefaultRevision : body[(at + 1)..];
        // huggingface_hub's validate_repo_id: [org/]name of word characters, '-' and '.', no '--' or '..', at most 96.
        if (!RepoIdPattern().IsMatch(repo) || repo.Contains("--", StringComparison.Ordinal)
            || repo.Contains("..", StringComparison.Ordinal) || repo.Length > 96)
            throw new UserInputException($"'{reference}': '{repo}' is not a valid repository id (expected ORG/NAME)");
        // The revision becomes a path under refs/ (refs/pr/1 is a valid one): nothing that could leave that folder.
        if (revision.Length == 0 || revision.Split('/').Any(s => s is "" or "." or "..")
            || revision.Any(c => c == '\\' || char.IsWhiteSpace(c)))
            throw new UserInputException($"'{reference}': '{revision}' is not a valid revision");
        return new HubReference(repo, revision);
    }

    [GeneratedRegex(@"^(\b[\w\-.]+\b/)?\b[\w\-.]+\b$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
