using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Per-forward state every attention layer reads: cache, prefix provider and key mask.</summary>
internal sealed record AttentionContext(KvCache? Cache, long Past, IKeyValuePrefixProvider? Prefix, Tensor? KeyPaddingMask);
