using System.Text.Json.Serialization;

namespace PluginGpt.Abstractions;

/// <summary>Where LayerNorm sits in a block: after the residual add (GPT-1) or before each sub-layer (GPT-2).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NormPlacement>))]
public enum NormPlacement
{
    /// <summary>GPT-1: x = LN(x + sublayer(x)).</summary>
    Post,
    /// <summary>GPT-2 and Llama: x = x + sublayer(LN(x)), with a final norm after the last block.</summary>
    Pre,
}

/// <summary>
/// Shape and behaviour of a decoder. JSON names follow Hugging Face's GPT-2 config, so a HF
/// <c>config.json</c> binds as is; <c>norm</c> is PluginGpt's own (GPT-1 = post, GPT-2 = pre).
/// <c>model_type</c> picks the family: <c>gpt2</c> (GPT-1 and GPT-2) or the Llama family (<c>llama</c>, <c>qwen2</c>: RMSNorm,
/// rotary positions, SwiGLU, grouped-query attention). A Llama <c>config.json</c> uses Llama's own names (<c>hidden_size</c>, …);
/// the core's checkpoint reader maps them onto this record. Plugins read shapes from here but never branch on the family: the
/// decoder's <see cref="IDecoder.LinearNames"/> says which modules play which role.
/// </summary>
public sealed record GptConfig
{
    /// <summary>The families the core builds.</summary>
    public static readonly IReadOnlyList<string> ModelTypes = ["gpt2", "llama", "qwen2"];

    /// <summary>The family, one of <see cref="ModelTypes"/>.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "gpt2";
    /// <summary>Number of transformer blocks (L).</summary>
    [JsonPropertyName("n_layer")] public int Layers { get; init; } = 2;
    /// <summary>Attention heads per block (query heads, under grouped-query attention).</summary>
    [JsonPropertyName("n_head")] public int Heads { get; init; } = 2;
    /// <summary>Width of the residual stream (C, d_model).</summary>
    [JsonPropertyName("n_embd")] public int ModelDim { get; init; } = 32;
    /// <summary>Feed-forward width; null means 4 × n_embd (as Hugging Face's <c>n_inner</c>).</summary>
    [JsonPropertyName("n_inner")] public int? FeedForwardDim { get; init; }
    /// <summary>The longest sequence the model takes, virtual tokens included (<see cref="IDecoder.UsableContext"/>).</summary>
    [JsonPropertyName("n_positions")] public int Context { get; init; } = 64;
    /// <summary>Rows of the token embedding and of the LM head's output; must match the tokenizer.</summary>
    [JsonPropertyName("vocab_size")] public int Vocab { get; init; } = 512;
    /// <summary>Where each block's norms sit.</summary>
    [JsonPropertyName("norm")] public NormPlacement Norm { get; init; } = NormPlacement.Pre;
    /// <summary><c>gelu_new</c> (tanh approximation, GPT-1/2), <c>gelu</c> (exact) or <c>relu</c>.</summary>
    [JsonPropertyName("activation_function")] public string Activation { get; init; } = "gelu_new";
    /// <summary>Whether the LM head shares the token embedding's weight (GPT-2: yes); a full fine-tuning then trains both as
    /// one tensor.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TiedHead { get; init; } = true;
    /// <summary>Dropout on the summed token and position embeddings.</summary>
    [JsonPropertyName("embd_pdrop")] public double EmbeddingDropout { get; init; }
    /// <summary>Dropout on the attention weights.</summary>
    [JsonPropertyName("attn_pdrop")] public double AttentionDropout { get; init; }
    /// <summary>Dropout on each sub-layer's output before the residual add.</summary>
    [JsonPropertyName("resid_pdrop")] public double ResidualDropout { get; init; }
    /// <summary>ε of every LayerNorm (RMSNorm in the Llama family), added to the variance before the square root.</summary>
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; init; } = 1e-5;
    /// <summary>What the weights file holds (Hugging Face's field): PluginGpt saves fp32 master weights whatever the precision
    /// it trained in.</summary>
    [JsonPropertyName("torch_dtype")] public string TorchDtype { get; init; } = "float32";

    /// <summary>Grouped-query attention: heads of keys and values, each shared by n_head / this many query heads; null = n_head.
    /// Llama family only.</summary>
    [JsonPropertyName("num_key_value_heads"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? KeyValueHeadCount { get; init; }
    /// <summary>Base of the rotary position frequencies (Llama family).</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    /// <summary>Biases on the q/k/v projections (Qwen2); Llama has none.</summary>
    [JsonPropertyName("attention_bias"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool AttentionBias { get; init; }

    /// <summary>The MLP's hidden width: <see cref="FeedForwardDim"/>, or 4 × <see cref="ModelDim"/>.</summary>
    [JsonIgnore] public int InnerDim => FeedForwardDim ?? 4 * ModelDim;
    /// <summary>Width of one attention head (D): <see cref="ModelDim"/> / <see cref="Heads"/>.</summary>
    [JsonIgnore] public int HeadDim => ModelDim / Heads;
    /// <summary>Heads of keys and values (Hkv): <see cref="KeyValueHeadCount"/>, or <see cref="Heads"/>. What prefix keys and
    /// values must be shaped for.</summary>
    [JsonIgnore] public int KeyValueHeads => KeyValueHeadCount ?? Heads;
    /// <summary>RMSNorm, rotary positions, SwiGLU and grouped-query attention instead of GPT-2's LayerNorm, learned positions and
    /// GELU MLP.</summary>
    [JsonIgnore] public bool IsLlamaFamily => ModelType is "llama" or "qwen2";

    /// <summary>Training FLOPs per token of a model of this shape with <paramref name="parameters"/> parameters at
    /// <paramref name="block"/> tokens a sequence, nanoGPT's estimate for MFU: 6 per parameter (learned position embeddings
    /// excluded: a lookup, no matmul) plus attention's 12·L·d·T. Since SDK 2.7.</summary>
    public double TrainingFlopsPerToken(long parameters, int block) =>
        6.0 * (parameters - (IsLlamaFamily ? 0 : (long)Context * ModelDim)) + 12.0 * Layers * ModelDim * block;

    /// <summary>Throws with the field's JSON name when a value is out of range.</summary>
    public void Validate()
    {
        static void Positive(int v, string name) { if (v <= 0) throw new OptionsException($"{name} must be positive, got {v}"); }
        Positive(Layers, "n_layer"); Positive(Heads, "n_head"); Positive(ModelDim, "n_embd");
        Positive(InnerDim, "n_inner"); Positive(Context, "n_positions"); Positive(Vocab, "vocab_size");
        if (!ModelTypes.Contains(ModelType))
            throw new OptionsException($"model_type must be one of {string.Join(", ", ModelTypes)}, got '{ModelType}'");
        if (!(LayerNormEpsilon > 0) || !double.IsFinite(LayerNormEpsilon))
            throw new OptionsException($"layer_norm_epsilon must be a positive number, got {LayerNormEpsilon}");
        if (ModelDim % Heads != 0) throw new OptionsException($"n_embd ({ModelDim}) must be divisible by n_head ({Heads})");
        if (IsLlamaFamily) ValidateLlama();
        else if (Activation is not ("gelu_new" or "gelu" or "relu"))
            throw new OptionsException($"activation_function must be gelu_new, gelu or relu, got '{Activation}'");
        var dropouts = new[] { (EmbeddingDropout, "embd_pdrop"), (AttentionDropout, "attn_pdrop"), (ResidualDropout, "resid_pdrop") };
        foreach (var (p, name) in dropouts)
            if (p is < 0 or >= 1) throw new OptionsException($"{name} must be in [0, 1), got {p}");
    }

    void ValidateLlama()
    {
        if (Activation != "silu") throw new OptionsException($"hidden_act must be silu for model_type {ModelType}, got '{Activation}'");
        if (KeyValueHeads <= 0 || Heads % KeyValueHeads != 0)
            throw new OptionsException($"num_key_value_heads ({KeyValueHeads}) must divide num_attention_heads ({Heads})");
        if (HeadDim % 2 != 0) throw new OptionsException($"head dimension {HeadDim} must be even for rotary positions");
        if (!(RopeTheta > 1) || !double.IsFinite(RopeTheta)) throw new OptionsException($"rope_theta must be > 1, got {RopeTheta}");
        if (Norm != NormPlacement.Pre) throw new OptionsException($"norm must be pre for model_type {ModelType}");
    }

    /// <summary>Same config with every dropout probability set to <paramref name="p"/>.</summary>
    public GptConfig WithDropout(double p) => this with { EmbeddingDropout = p, AttentionDropout = p, ResidualDropout = p };
}
