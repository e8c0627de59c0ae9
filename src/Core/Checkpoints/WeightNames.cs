namespace PluginGpt.Core.Checkpoints;

/// <summary>How each family's weights are named and shaped in the module tree and in Hugging Face's files.</summary>
internal abstract class WeightNames
{
    public static WeightNames Of(GptConfig config) => config.IsLlamaFamily ? new LlamaNames(config) : new Gpt2Names(config);

    /// <summary>The file's key for a module name.</summary>
    public abstract string FileKey(string moduleName);
    /// <summary>The module name for a file's key.</summary>
    public abstract string ModuleKey(string fileKey);
    /// <summary>Stored transposed in the file (GPT-2's Conv1D).</summary>
    public abstract bool IsConv1D(string moduleName);
    /// <summary>Buffers and aliases files may carry that hold no weights of their own.</summary>
    public abstract bool IsIgnorable(string moduleName);
    public abstract IReadOnlyDictionary<string, long[]> Shapes(GptConfig c);

    sealed class Gpt2Names(GptConfig config) : WeightNames
    {
        public override string FileKey(string moduleName) => moduleName;
        public override string ModuleKey(string fileKey) => fileKey.StartsWith("transformer.") ? fileKey["transformer.".Length..] : fileKey;
        public override bool IsConv1D(string key) =>
            key.EndsWith(".c_attn.weight") || key.EndsWith(".c_proj.weight") || key.EndsWith(".c_fc.weight");
        public override bool IsIgnorable(string key) =>
            key.EndsWith(".attn.bias") || key.EndsWith(".attn.masked_bias") || (config.TiedHead && key == "lm_head.weight");

        public override IReadOnlyDictionary<string, long[]> Shapes(GptConfig c)
        {
            long d = c.ModelDim, ff = c.InnerDim;
            var shapes = new Dictionary<string, long[]> { ["wte.weight"] = [c.Vocab, d], ["wpe.weight"] = [c.Context, d] };
            for (int i = 0; i < c.Layers; i++)
            {
                var p = $"h.{i}.";
                shapes[p + "ln_1.weight"] = [d]; shapes[p + "ln_1.bias"] = [d];
                shapes[p + "attn.c_attn.weight"] = [3 * d, d]; shapes[p + "attn.c_attn.bias"] = [3 * d];
                shapes[p + "attn.c_proj.weight"] = [d, d]; shapes[p + "attn.c_proj.bias"] = [d];
                shapes[p + "ln_2.weight"] = [d]; shapes[p + "ln_2.bias"] = [d];
                shapes[p + "mlp.c_fc.weight"] = [ff, d]; shapes[p + "mlp.c_fc.bias"] = [ff];
                shapes[p + "mlp.c_proj.weight"] = [d, ff]; shapes[p + "mlp.c_proj.bias"] = [d];
            }
            if (c.Norm == NormPlacement.Pre) { shapes["ln_f.weight"] = [d]; shapes["ln_f.bias"] = [d]; }
            if (!c.TiedHead) shapes["lm_head.weight"] = [c.Vocab, d];
            return shapes;
        }
    }

    /// <summary>Hugging Face's <c>LlamaForCausalLM</c>: the body under <c>model.</c>, the head as <c>lm_head</c>.</summary>
    sealed class LlamaNames(GptConfig config) : WeightNames
    {
        public override string FileKey(string moduleName) => moduleName.StartsWith("lm_head.") ? moduleName : "model." + moduleName;
        public override string ModuleKey(string fileKey) => fileKey.StartsWith("model.") ? fileKey["model.".Length..] : fileKey;
        public override bool IsConv1D(string key) => false;
        public override bool IsIgnorable(string key) =>
            key.EndsWith(".rotary_emb.inv_freq") || (config.TiedHead && key == "lm_head.weight");

        public override IReadOnlyDictionary<string, long[]> Shapes(GptConfig c)
        {
            long d = c.ModelDim, ff = c.InnerDim, q = (long)c.Heads * c.HeadDim, kv = (long)c.KeyValueHeads * c.HeadDim;
            var shapes = new Dictionary<string, long[]> { ["embed_tokens.weight"] = [c.Vocab, d] };
            for (int i = 0; i < c.Layers; i++)
            {
                var p = $"layers.{i}.";
                shapes[p + "input_layernorm.weight"] = [d];
                shapes[p + "self_attn.q_proj.weight"] = [q, d];
                shapes[p + "self_attn.k_proj.weight"] = [kv, d];
                shapes[p + "self_attn.v_proj.weight"] = [kv, d];
                if (c.AttentionBias)
                {
                    shapes[p + "self_attn.q_proj.bias"] = [q];
                    shapes[p + "self_attn.k_proj.bias"] = [kv];
                    shapes[p + "self_attn.v_proj.bias"] = [kv];
                }
                shapes[p + "self_attn.o_proj.weight"] = [d, q];
                if (c.AttentionBias && c.ModelType == "llama") shapes[p + "self_attn.o_proj.bias"] = [d];
                shapes[p + "post_attention_layernorm.weight"] = [d];
                shapes[p + "mlp.gate_proj.weight"] = [ff, d];
                shapes[p + "mlp.up_proj.weight"] = [ff, d];
                shapes[p + "mlp.down_proj.weight"] = [d, ff];
            }
            shapes["norm.weight"] = [d];
            if (!c.TiedHead) shapes["lm_head.weight"] = [c.Vocab, d];
            return shapes;
        }
    }
}
