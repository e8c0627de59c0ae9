using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Tests;

public class CheckpointTests
{
    static Decoder Tiny(int seed = 1) { torch.manual_seed(seed); var m = new Decoder(Presets.Tiny); m.eval(); return m; }
    static readonly Tensor Ids = torch.tensor(new long[] { 1, 5, 9, 33, 100, 7 }).unsqueeze(0);

    [Fact]
    public void Save_then_load_gives_identical_logits()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        GptCheckpoint.Save(model, dir.Path);
        using var loaded = GptCheckpoint.Load(dir.Path);
        using var _ = torch.no_grad();
        Assert.True(model.Logits(Ids).allclose(loaded.Logits(Ids), rtol: 0, atol: 0));
    }

    [Fact]
    public void Files_use_GPT2_names_and_Conv1D_layout()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        GptCheckpoint.Save(model, dir.Path);
        var (entries, metadata, _) = Safetensors.ReadHeader(dir[GptCheckpoint.WeightsFile]);
        Assert.Equal(new long[] { 32, 96 }, entries["h.0.attn.c_attn.weight"].Shape);   // [in, out]
        Assert.Equal(new long[] { 128, 32 }, entries["h.1.mlp.c_proj.weight"].Shape);
        Assert.Equal(new long[] { 512, 32 }, entries["wte.weight"].Shape);
        Assert.DoesNotContain("lm_head.weight", entries.Keys);
        Assert.Equal("pt", metadata["format"]);
    }

    [Fact]
    public void HF_layout_with_transformer_prefix_and_extra_buffers_loads()
    {
        // What transformers' save_pretrained writes for GPT2LMHeadModel: "transformer." keys, causal-mask buffers, lm_head copy.
        using var dir = new TempDir();
        using var model = Tiny();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (k, v) in GptCheckpoint.FileLayout(model)) tensors["transformer." + k] = v;
        tensors["transformer.h.0.attn.bias"] = torch.ones(1, 1, 64, 64);
        tensors["lm_head.weight"] = model.TokenEmbedding.weight!;
        Safetensors.Save(dir[GptCheckpoint.WeightsFile], tensors);
        File.Copy(Path.Combine(GoldenFixture.Directory, "config.json"), dir["config.json"]);
        using var loaded = GptCheckpoint.Load(dir.Path);
        using var _ = torch.no_grad();
        Assert.True(model.Logits(Ids).allclose(loaded.Logits(Ids), rtol: 0, atol: 0));
    }

    [Fact]
    public void Wrong_shape_names_the_key()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        var tensors = GptCheckpoint.FileLayout(model).ToDictionary(kv => kv.Key, kv => kv.Value);
        tensors["h.1.ln_2.weight"] = torch.ones(31);
        Safetensors.Save(dir["bad.safetensors"], tensors);
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadWeights(Tiny(), dir["bad.safetensors"]));
        Assert.Contains("'h.1.ln_2.weight'", e.Message);
        Assert.Contains("[31]", e.Message);
    }

    [Fact]
    public void Missing_key_names_the_key()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        var tensors = GptCheckpoint.FileLayout(model).Where(kv => kv.Key != "h.0.mlp.c_fc.bias");
        Safetensors.Save(dir["bad.safetensors"], tensors);
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.LoadWeights(Tiny(), dir["bad.safetensors"]));
        Assert.Contains("missing key 'h.0.mlp.c_fc.bias'", e.Message);
    }

    [Fact]
    public void Truncated_file_names_the_file_and_key()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        GptCheckpoint.Save(model, dir.Path);
        var path = dir[GptCheckpoint.WeightsFile];
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.Load(dir.Path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("ln_f.bias", e.Message);   // the last tensor in the file is the one cut short
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { 16, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x', 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Corrupt_header_is_a_checkpoint_error(byte[] content)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir["x.safetensors"], content);
        var e = Assert.Throws<CheckpointException>(() => Safetensors.Load(dir["x.safetensors"]));
        Assert.Contains(dir["x.safetensors"], e.Message);
    }

    [Fact]
    public void Failed_save_leaves_the_existing_file_intact()
    {
        using var dir = new TempDir();
        using var model = Tiny();
        GptCheckpoint.Save(model, dir.Path);
        var before = File.ReadAllBytes(dir[GptCheckpoint.WeightsFile]);
        Assert.ThrowsAny<Exception>(() =>
            AtomicFile.Write(dir[GptCheckpoint.WeightsFile], s => { s.WriteByte(1); throw new IOException("disk full"); }));
        Assert.Equal(before, File.ReadAllBytes(dir[GptCheckpoint.WeightsFile]));
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);   // no temp file left behind
    }
}
