using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Per-forward state every block reads: cache, prefix provider, key mask, (Llama family) the rotary table of this
/// forward's positions, and the obsolete block-output hook.</summary>
#pragma warning disable CS0618 // hook point 4 is obsolete but still honoured
public sealed record AttentionContext(KvCache? Cache, long Past, IKeyValuePrefixProvider? Prefix, Tensor? KeyPaddingMask,
    (Tensor Cos, Tensor Sin)? Rotary = null, IBlockOutputHook? BlockHook = null);
#pragma warning restore CS0618
