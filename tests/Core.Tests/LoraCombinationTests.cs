using System.Text.Json.Nodes;
using PluginGpt.Core.Adapters;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

/// <summary>PEFT's add_weighted_adapter on saved LoRA adapters, checked against merges computed by hand.</summary>
public class LoraCombinationTests
{
    const string A = "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight";
    const string B = "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight";

    static LoraAdapterFiles Adapter(TempDir dir, string name, float[] a, float[] b, int r = 1, double alpha = 1, bool dora = false)
    {
        var folder = Path.Combine(dir.Path, name);
        Directory.CreateDirectory(folder);
        var config = new JsonObject { ["peft_type"] = "LORA", ["r"] = r, ["lora_alpha"] = alpha, ["use_dora"] = dora };
        File.WriteAllText(Path.Combine(folder, AdapterFiles.ConfigFile), config.ToJsonString());
        Safetensors.Save(Path.Combine(folder, AdapterFiles.WeightsFile), new Dictionary<string, Tensor>
        {
            [A] = tensor(a).view(r, -1),
            [B] = tensor(b).view(-1, r),
        });
        return LoraAdapterFiles.Read(folder);
    }

    static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Fact]
    public void Ties_prunes_by_magnitude_elects_signs_by_the_total_and_averages_the_agreeing_weighted_entries()
    {
        using var dir = new TempDir();
        // s = α/r = 1, weights 0.25 and 4 → each factor weighted by √(w·s) = 0.5 and 2; density 0.5 keeps the larger half.
        using var first = Adapter(dir, "a", [3, -1, 0.5f, -4], [1, 2]);
        using var second = Adapter(dir, "b", [-2, 2, 1, -1], [-1, 0.5f]);
        var (config, merged) = LoraCombination.Combine([(first, 0.25), (second, 4)], "ties", density: 0.5);
        // A: pruned [3, 0, 0, -4] and [-2, 2, 0, 0]; total [1, 2, 0, -4] → signs [+, +, +, -]; agreeing weighted entries:
        // [3·0.5, 2·2, none, -4·0.5] = [1.5, 4, 0, -2].
        Assert.Equal([1.5f, 4, 0, -2], Values(merged[A]));
        // B: pruned [0, 2] and [-1, 0]; total [-1, 2] → signs [-, +]: [-1·2, 2·0.5] = [-2, 1].
        Assert.Equal([-2f, 1], Values(merged[B]));
        Assert.Equal(1, config["r"]!.GetValue<int>());
        Assert.Equal(1, config["lora_alpha"]!.GetValue<int>());   // scaling 1: the weights carry the adapters' scalings
    }

    [Fact]
    public void Linear_weights_each_factor_by_the_root_of_weight_times_scaling_and_magnitude_prune_prunes_first()
    {
        using var dir = new TempDir();
        using var first = Adapter(dir, "a", [1, 2, 3, 4], [1, -1], alpha: 4);   // s = 4
        using var second = Adapter(dir, "b", [4, 3, 2, 1], [2, 2], alpha: 1);   // s = 1
        var (_, linear) = LoraCombination.Combine([(first, 1), (second, 4)], "linear");
        // √(1·4) = 2 and √(4·1) = 2: A = 2·[1, 2, 3, 4] + 2·[4, 3, 2, 1], B = 2·[1, -1] + 2·[2, 2].
        Assert.Equal([10f, 10, 10, 10], Values(linear[A]));
        Assert.Equal([6f, 2], Values(linear[B]));
        var (_, pruned) = LoraCombination.Combine([(first, 1), (second, 4)], "magnitude_prune", density: 0.5);
        Assert.Equal([8f, 6, 6, 8], Values(pruned[A]));   // 2·[0, 0, 3, 4] + 2·[4, 3, 0, 0]
    }

    [Fact]
    public void Cat_stacks_the_scaled_ranks_so_the_update_is_exactly_the_weighted_sum()
    {
        using var dir = new TempDir();
        manual_seed(3);
        using var first = Adapter(dir, "a", Values(randn(2 * 4)), Values(randn(3 * 2)), r: 2, alpha: 4);
        using var second = Adapter(dir, "b", Values(randn(1 * 4)), Values(randn(3 * 1)), r: 1, alpha: 3);
        var (config, merged) = LoraCombination.Combine([(first, 0.5), (second, 2)], "cat");
        Assert.Equal(3, config["r"]!.GetValue<int>());
        var expected = first.Tensors[B].matmul(first.Tensors[A]) * (0.5 * 2) + second.Tensors[B].matmul(second.Tensors[A]) * (2 * 3);
        Assert.True(merged[B].matmul(merged[A]).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Dare_drops_at_random_and_rescales_reproducibly_and_keeps_everything_at_density_one()
    {
        using var dir = new TempDir();
        using var first = Adapter(dir, "a", [1, 2, 3, 4, 5, 6, 7, 8], [1, 1]);
        using var second = Adapter(dir, "b", [8, 7, 6, 5, 4, 3, 2, 1], [1, 1]);
        var (_, full) = LoraCombination.Combine([(first, 1), (second, 1)], "dare_linear", density: 1.0);
        Assert.Equal([9f, 9, 9, 9, 9, 9, 9, 9], Values(full[A]));   // nothing dropped, nothing rescaled: linear
        var (_, once) = LoraCombination.Combine([(first, 1), (second, 1)], "dare_linear", density: 0.5, seed: 7);
        var (_, again) = LoraCombination.Combine([(first, 1), (second, 1)], "dare_linear", density: 0.5, seed: 7);
        Assert.Equal(Values(once[A]), Values(again[A]));
        // Each entry is 2·(kept ones of 1·a and 1·b): 0, 2a, 2b or 2(a + b).
        var a = Values(first.Tensors[A]);
        var b = Values(second.Tensors[A]);
        var got = Values(once[A]);
        for (int i = 0; i < got.Length; i++) Assert.Contains(got[i], new[] { 0, 2 * a[i], 2 * b[i], 2 * (a[i] + b[i]) });
    }

    [Fact]
    public void Different_ranks_outside_cat_and_DoRA_adapters_are_refused()
    {
        using var dir = new TempDir();
        using var r1 = Adapter(dir, "a", [1, 2], [1, 1]);
        using var r2 = Adapter(dir, "b", [1, 2, 3, 4], [1, 1, 1, 1], r: 2);
        Assert.Contains("same r", Assert.Throws<OptionsException>(() => LoraCombination.Combine([(r1, 1), (r2, 1)], "ties")).Message);
        Assert.Contains("DoRA", Assert.Throws<CheckpointException>(() => Adapter(dir, "d", [1, 2], [1, 1], dora: true)).Message);
        // √(w·s) of a negative weight has no value: refused by name outside cat, where it subtracts the adapter exactly.
        using var other = Adapter(dir, "c", [3, 4], [1, 1]);
        Assert.Contains("negative", Assert.Throws<OptionsException>(() => LoraCombination.Combine([(r1, 1), (other, -1)], "ties")).Message);
        var (_, difference) = LoraCombination.Combine([(r1, 1), (other, -1)], "cat");
        Assert.Equal([-2f, -2], Values(difference[B].matmul(difference[A])[0]));   // 1·[1, 2] − 1·[3, 4]
    }
}
