namespace PluginGpt.Core.Checkpoints;

/// <summary>A checkpoint that cannot be used; the message names the file and, where one is at fault, the key.</summary>
public sealed class CheckpointException(string message) : Exception(message);
