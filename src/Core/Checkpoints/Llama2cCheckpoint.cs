using PluginGpt.Core.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Checkpoints;

/// <summary>
/// Karpathy's llama2.c model files (version 0, "legacy": seven int32 — dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
/// seq_len — then fp32 tensors; a negative vocab_size means an untied classifier at the end) read into a Llama-family decoder.
/// llama2.c pairs neighbouring dimensions for its rotary positions (Meta's layout); Hugging Face pairs i with i + D/2, so the rows of
/// wq and wk are permuted as Hugging Face's convert_llama_weights_to_hf.py does.
/// </summary>
public static class Llama2cCheckpoint
{
    /// <summary>The model a llama2.c file holds, as a Llama-family decoder (fp32, on the CPU).</summary>
    public static Decoder Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        if (stream.Length < 28) throw new CheckpointException($"{path}: too short for a llama2.c header ({stream.Length} bytes)");
        var header = Enumerable.Range(0, 7).Select(_ => reader.ReadInt32()).ToArray();
        if (header[0] == 0x616b3432)   // "ak42": llama2.c's later export versions
            throw new CheckpointException($"{path}: a llama2.c version-1/2 export; only version 0 (legacy_export) files are read");
        var config = ConfigOf(path, header);
        long expected = ExpectedLength(config);
        if (stream.Length != expected)
            throw new CheckpointException($"{path}: {stream.Length} bytes, but a llama2.c file of header [{string.Join(", ", header)}] " +
                $"has {expected}");

        var model = new Decoder(config);
        try { ReadWeights(model, stream); }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>The decoder shape a header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, ±vocab_size, seq_len) describes; a
    /// shape no decoder can have is refused naming the file and the header.</summary>
    static GptConfig ConfigOf(string path, int[] header)
    {
        int vocab = header[5] == int.MinValue ? 0 : Math.Abs(header[5]);   // 0 is then refused below
        try
        {
            var config = new GptConfig
            {
                ModelType = "llama",
                ModelDim = header[0],
                FeedForwardDim = header[1],
                Layers = header[2],
                Heads = header[3],
                KeyValueHeadCount = header[4],
                Vocab = vocab,
                Context = header[6],
                LayerNormEpsilon = 1e-5,   // llama2.c's
                RopeTheta = 10000,
                Activation = "silu",
                TiedHead = header[5] > 0,
            };
            config.Validate();
            return config;
        }
        catch (OptionsException e) { throw new CheckpointException($"{path}: header [{string.Join(", ", header)}]: {e.Message}"); }
    }

    /// <summary>The file's size in bytes: the header, then every tensor in fp32, the legacy RoPE tables included.</summary>
    static long ExpectedLength(GptConfig c)
    {
        long dim = c.ModelDim, hidden = c.InnerDim, kvDim = (long)c.KeyValueHeads * c.HeadDim;
        return 28 + 4L * (c.Vocab * dim + c.Layers * (2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * dim * hidden)
            + dim + (long)c.Context * c.HeadDim + (c.TiedHead ? 0 : c.Vocab * dim));
    }

    /// <summary>Reads the tensors in llama2.c's order into <paramref name="model"/>: each per-layer tensor for all layers at
    /// once.</summary>
    static void ReadWeights(Decoder model, Stream stream)
    {
        var c = model.Config;
        long dim = c.ModelDim, hidden = c.InnerDim, kvDim = (long)c.KeyValueHeads * c.HeadDim;
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var p = model.named_parameters().ToDictionary(n => n.name, n => n.parameter);
        Tensor Next(params long[] shape)
        {
            var t = torch.empty(shape, ScalarType.Float32);
            t.ReadBytesFromStream(stream);
            return t;
        }
        void PerLayer(string name, long rows, long cols, Func<Tensor, Tensor>? map = null)
        {
            var all = Next(c.Layers, rows, cols);
            for (int i = 0; i < c.Layers; i++)
                p[$"layers.{i}.{name}"].copy_((map ?? (t => t))(all[i]).view(p[$"layers.{i}.{name}"].shape));
        }
        p["embed_tokens.weight"].copy_(Next(c.Vocab, dim));
        PerLayer("input_layernorm.weight", 1, dim);
        PerLayer("self_attn.q_proj.weight", dim, dim, w => ToRotateHalf(w, c.Heads));
        PerLayer("self_attn.k_proj.weight", kvDim, dim, w => ToRotateHalf(w, c.KeyValueHeads));
        PerLayer("self_attn.v_proj.weight", kvDim, dim);
        PerLayer("self_attn.o_proj.weight", dim, dim);
        PerLayer("post_attention_layernorm.weight", 1, dim);
        PerLayer("mlp.gate_proj.weight", hidden, dim);   // w1
        PerLayer("mlp.down_proj.weight", dim, hidden);   // w2
        PerLayer("mlp.up_proj.weight", hidden, dim);     // w3
        p["norm.weight"].copy_(Next(dim));
        stream.Seek((long)c.Context * c.HeadDim * 4, SeekOrigin.Current);   // legacy RoPE tables (cos and sin): recomputed
        if (!c.TiedHead) p["lm_head.weight"].copy_(Next(c.Vocab, dim));
    }

    /// <summary>Hugging Face's <c>permute</c>: within each head, rows (2j, 2j+1) become (j, j + D/2).</summary>
    static Tensor ToRotateHalf(Tensor w, int heads)
    {
        long rows = w.shape[0], cols = w.shape[1];
        return w.view(heads, rows / heads / 2, 2, cols).transpose(1, 2).reshape(rows, cols);
    }
}
