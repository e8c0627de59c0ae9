namespace PluginGpt.Core.Hub;

/// <summary>Download progress of one file: bytes written so far (a resumed download starts above 0) of <c>Total</c>
/// when the hub sent a size.</summary>
public readonly record struct HubProgress(string File, long Bytes, long? Total);
