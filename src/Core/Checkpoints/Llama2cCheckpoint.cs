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
        int dim = header[0], hidden = header[1], layers = header[2], heads = header[3], kvHeads = header[4], seqLen = header[6];
        bool shared = header[5] > 0;
        int vocab = header[5] == int.MinValue ? 0 : Math.Abs(header[5]);   // 0 is then refused with the header below
        GptConfig config;
        try
        {
            config = new GptConfig
            {
                ModelType = "llama",
                ModelDim = dim,
                FeedForwardDim = hidden,
                Layers = layers,
                Heads = heads,
                KeyValueHeadCount = kvHeads,
                Vocab = vocab,
                Context = seqLen,
                LayerNormEpsilon = 1e-5,   // llama2.c's
                RopeTheta = 10000,
                Activation = "silu",
                TiedHead = shared,
            };
            config.Validate();
        }
        catch (OptionsException e) { throw new CheckpointException($"{path}: header [{string.Join(", ", header)}]: {e.Message}"); }

        int headDim = dim / heads, kvDim = kvHeads * headDim;
        long expected = 28 + 4L * ((long)vocab * dim + layers * (2L * dim + 2L * dim * dim + 2L * kvDim * dim + 3L * dim * hidden)
            + dim + (long)seqLen * headDim + (shared ? 0 : (long)vocab * dim));
        if (stream.Length != expected)
            throw new CheckpointException($"{path}: {stream.Length} bytes, but a llama2.c file of header [{string.Join(", ", header)}] " +
                $"has {expected}");

        var model = new Decoder(config);
        try
        {
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
                var all = Next(layers, rows, cols);
                for (int i = 0; i < layers; i++)
                    p[$"layers.{i}.{name}"].copy_((map ?? (t => t))(all[i]).view(p[$"layers.{i}.{name}"].shape));
            }
            p["embed_tokens.weight"].copy_(Next(vocab, dim));
            PerLayer("input_layernorm.weight", 1, dim);
            PerLayer("self_attn.q_proj.weight", dim, dim, w => ToRotateHalf(w, heads));
            PerLayer("self_attn.k_proj.weight", kvDim, dim, w => ToRotateHalf(w, kvHeads));
            PerLayer("self_attn.v_proj.weight", kvDim, dim);
            PerLayer("self_attn.o_proj.weight", dim, dim);
            PerLayer("post_attention_layernorm.weight", 1, dim);
            PerLayer("mlp.gate_proj.weight", hidden, dim);   // w1
            PerLayer("mlp.down_proj.weight", dim, hidden);   // w2
            PerLayer("mlp.up_proj.weight", hidden, dim);     // w3
            p["norm.weight"].copy_(Next(dim));
            stream.Seek((long)seqLen * headDim * 4, SeekOrigin.Current);   // legacy RoPE tables (cos and sin): recomputed
            if (!shared) p["lm_head.weight"].copy_(Next(vocab, dim));
        }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>Hugging Face's <c>permute</c>: within each head, rows (2j, 2j+1) become (j, j + D/2).</summary>
    static Tensor ToRotateHalf(Tensor w, int heads)
    {
        long rows = w.shape[0], cols = w.shape[1];
        return w.view(heads, rows / heads / 2, 2, cols).transpose(1, 2).reshape(rows, cols);
    }
}
