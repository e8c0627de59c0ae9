namespace PluginGpt.Core.Tokenization;

/// <summary>
/// The special tokens PluginGpt adds after the BPE vocabulary: GPT-2's end-of-text plus GPT-1's start,
/// delimiter and extract (classify) tokens, and padding. Text containing these exact strings encodes to their ids.
/// </summary>
public static class SpecialTokens
{
    public const string EndOfText = "<|endoftext|>";
    public const string Start = "<|start|>";
    public const string Delimiter = "<|delim|>";
    public const string Extract = "<|extract|>";
    public const string Pad = "<|pad|>";

    public static readonly IReadOnlyList<string> All = [EndOfText, Start, Delimiter, Extract, Pad];
}
