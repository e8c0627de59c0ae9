using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Model;

/// <summary>Boolean attention masks (true = may attend) for the cases SDPA's causal flag cannot express.</summary>
internal static class AttentionMask
{
    /// <summary>
    /// [B or 1, 1, T, P + past + T]: every query sees all P prefix keys, real keys up to its own position,
    /// minus keys the padding mask [B, past + T] switches off. A query always sees itself, so a padded
    /// row never becomes all-masked (which would give NaN).
    /// </summary>
    public static Tensor Build(long steps, long past, long prefix, Tensor? keyPaddingMask, Device device)
    {
        long real = past + steps;
        var queryPos = torch.arange(past, real, device: device).unsqueeze(1);   // [T, 1]
        var keyPos = torch.arange(0, real, device: device).unsqueeze(0);         // [1, past + T]
        var causal = keyPos.le(queryPos);                                         // [T, past + T]
        Tensor mask = causal.unsqueeze(0).unsqueeze(0);                           // [1, 1, T, past + T]
        if (keyPaddingMask is not null)
        {
            var keep = keyPaddingMask.to_type(ScalarType.Bool).unsqueeze(1).unsqueeze(1); // [B, 1, 1, past + T]
            var self = keyPos.eq(queryPos).unsqueeze(0).unsqueeze(0);
            mask = mask.logical_and(keep).logical_or(self);
        }
        if (prefix > 0)
        {
            var prefixKeys = torch.ones([mask.shape[0], 1, steps, prefix], ScalarType.Bool, device);
            mask = torch.cat([prefixKeys, mask], 3);
        }
        return mask;
    }
}
