using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Per-forward state every attention layer reads: cache, prefix provider, key mask and (Llama family) the rotary table
/// of this forward's positions.</summary>
internal sealed record AttentionContext(KvCache? Cache, long Past, IKeyValuePrefixProvider? Prefix, Tensor? KeyPaddingMask,
    (Tensor Cos, Tensor Sin)? Rotary = null);
