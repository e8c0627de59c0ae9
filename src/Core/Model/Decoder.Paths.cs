using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Core.Model;

/// <summary>The decoder's replaceable children by path: each block's sub-layers (<c>h.3.mlp</c>) and their Linears
/// (<c>h.3.mlp.c_fc</c>), with the family's names, and their replacement by a method's wrapper.</summary>
public sealed partial class Decoder
{
    /// <summary>Dotted paths of every replaceable Linear (<c>h.0.attn.c_attn</c>, <c>layers.0.self_attn.q_proj</c>, …) — hook
    /// point 1.</summary>
    public IReadOnlyList<string> LinearPaths() => BlockList.SelectMany((b, i) => PathsOf(b, i, withSubLayers: false)).ToArray();

    /// <summary>Every replaceable child, block by block: each sub-layer followed by its Linears.</summary>
    public IReadOnlyList<string> ModulePaths() => BlockList.SelectMany((b, i) => PathsOf(b, i, withSubLayers: true)).ToArray();

    IEnumerable<string> PathsOf(DecoderBlock block, int layer, bool withSubLayers)
    {
        foreach (var (which, sublayer) in new[] { (SubLayer.Attention, block.Attention), (SubLayer.FeedForward, block.FeedForward) })
        {
            var path = SubLayerPath(layer, which);
            if (withSubLayers) yield return path;
            foreach (var name in sublayer.ReplaceableNames) yield return $"{path}.{name}";
        }
    }

    public string SubLayerPath(int layer, SubLayer which)
    {
        if (layer < 0 || layer >= Config.Layers)
            throw new ArgumentOutOfRangeException(nameof(layer), $"must be in [0, {Config.Layers - 1}], got {layer}");
        return $"{family.Blocks}.{layer}.{(which == SubLayer.Attention ? family.Attention : "mlp")}";
    }

    public IReadOnlyList<string> LinearNames(params LinearRole[] roles) =>
        family.Roles.Where(r => roles.Contains(r.Role)).Select(r => r.Name).Distinct().ToArray();

    public string HuggingFaceName(string path) => family.ModulePrefix + path;

    /// <summary>Whether Hugging Face's files hold this family's projections transposed (GPT-2's Conv1D, [in, out]).</summary>
    public bool StoresConv1D => family.StoresConv1D;

    /// <summary>Wraps the module at <paramref name="path"/> (a sub-layer such as <c>h.3.mlp</c>, or a Linear such as
    /// <c>h.3.attn.c_attn</c>); unknown paths list valid ones.</summary>
    public void ReplaceModule(string path, Func<Module<Tensor, Tensor>, Module<Tensor, Tensor>> wrap)
    {
        var (owner, child) = Resolve(path);
        ChildSlots.Replace(owner, child, wrap(ChildSlots.Get(owner, child)));
    }

    /// <summary>The module now at a path (the decoder's own or whatever wraps it).</summary>
    public Module<Tensor, Tensor> GetModule(string path) { var (owner, child) = Resolve(path); return ChildSlots.Get(owner, child); }

    [Obsolete("Use ReplaceModule.")]
    public void ReplaceLinear(string path, Func<Module<Tensor, Tensor>, Module<Tensor, Tensor>> wrap) => ReplaceModule(path, wrap);

    [Obsolete("Use GetModule.")]
    public Module<Tensor, Tensor> GetLinear(string path) => GetModule(path);

    /// <summary>The module holding the slot a path names: a block (<c>h.3.mlp</c>) or the block's own sub-layer
    /// (<c>h.3.mlp.c_fc</c>, reached even while a method wraps that sub-layer).</summary>
    (Module Owner, string Child) Resolve(string path)
    {
        var parts = path.Split('.');
        var blocks = BlockList;
        if (parts.Length is 3 or 4 && parts[0] == family.Blocks && int.TryParse(parts[1], out int layer) && layer >= 0
            && layer < blocks.Count)
        {
            var block = blocks[layer];
            if (parts.Length == 3 && block.SubLayerNames.Contains(parts[2])) return (block, parts[2]);
            ReplaceableChildren? owner = parts[2] == family.Attention ? block.Attention : parts[2] == "mlp" ? block.FeedForward : null;
            if (parts.Length == 4 && owner is not null && owner.ReplaceableNames.Contains(parts[3])) return (owner, parts[3]);
        }
        throw new OptionsException($"unknown module '{path}'; valid: {string.Join(", ", ModulePaths().Take(4))}, … " +
            $"({family.Blocks}.0–{family.Blocks}.{blocks.Count - 1} × {family.Attention}, mlp, " +
            $"{string.Join(", ", family.Roles.Select(r => r.Name).Distinct())})");
    }
}
