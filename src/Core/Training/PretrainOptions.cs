namespace PluginGpt.Core.Training;

/// <summary>Everything <c>plugingpt pretrain</c> needs; defaults suit the <c>small</c> preset on 2 CPU cores.</summary>
public sealed record PretrainOptions
{
    public string Preset { get; init; } = "small";
    /// <summary>Corpus specs, <c>PATH[:WEIGHT][:lines]</c> (see <see cref="Corpora.CorpusSource"/>): gzip or plain text, TSV or JSONL,
    /// sampled by weight.</summary>
    public IReadOnlyList<string> Corpus { get; init; } = [];
    /// <summary>Changes to the preset's shape (layers, width, heads, context, vocabulary).</summary>
    public ModelShape Shape { get; init; } = new();
    /// <summary>Where encoded corpora are cached; null: <c>tokens/</c> in the output folder. Several runs may share one.</summary>
    public string? TokenCache { get; init; }
    /// <summary>Evaluation-set files no pre-training document may contain (the shipped dev and test sets, from the host).</summary>
    public IReadOnlyList<string> EvaluationTexts { get; init; } = [];
    /// <summary>How much of the mixture (in MB of text, split by weight) a <c>bpe</c> tokenizer learns its merges from.</summary>
    public double TokenizerSampleMegabytes { get; init; } = 32;
    public required string OutputDirectory { get; init; }
    /// <summary><c>bpe</c> trains a byte-level BPE of the preset's vocabulary size on the corpus; a directory loads one (e.g.
    /// data/tokenizers/gpt2).</summary>
    public string Tokenizer { get; init; } = "bpe";
    public int MaxSteps { get; init; } = 1000;
    public int BatchSize { get; init; } = 16;
    /// <summary>Tokens per training window; 0 means the model's context.</summary>
    public int BlockSize { get; init; }
    public double LearningRate { get; init; } = 2e-3;
    public double MinLearningRate { get; init; } = 2e-4;
    public int WarmupSteps { get; init; } = 30;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public double Dropout { get; init; }
    public int EvalInterval { get; init; } = 50;
    public int EvalBatches { get; init; } = 8;
    public int CheckpointInterval { get; init; } = 100;
    public double ValidationFraction { get; init; } = 0.05;
    public int Seed { get; init; } = 1337;
    public string Device { get; init; } = "cpu";
    /// <summary><c>fp32</c>, <c>bf16</c> or <c>auto</c> (see <see cref="PrecisionSelector"/>); weights and checkpoints stay fp32.</summary>
    public string Precision { get; init; } = "auto";
    public bool Resume { get; init; }
    /// <summary>Start afresh in an output folder that already holds something, emptying it first (never implied).</summary>
    public bool Overwrite { get; init; }
    /// <summary>Continued (domain) pre-training: start from this model folder's weights, shape and tokenizer (PluginGpt's or a
    /// Hugging Face GPT-2 folder) instead of a preset; the preset and tokenizer options do not apply.</summary>
    public string? InitFrom { get; init; }

    public void Validate()
    {
        void Positive(int v, string n) { if (v <= 0) throw new OptionsException($"{n} must be positive, got {v}"); }
        Positive(MaxSteps, "max-steps"); Positive(BatchSize, "batch-size"); Positive(EvalInterval, "eval-interval");
        Positive(EvalBatches, "eval-batches"); Positive(CheckpointInterval, "checkpoint-interval");
        if (WarmupSteps < 0) throw new OptionsException($"warmup-steps must be ≥ 0, got {WarmupSteps}");
        if (Dropout is < 0 or >= 1) throw new OptionsException($"dropout must be in [0, 1), got {Dropout}");
        if (WeightDecay < 0 || GradClip < 0) throw new OptionsException($"weight-decay and grad-clip must be ≥ 0");
        if (BlockSize < 0) throw new OptionsException($"block-size must be ≥ 0, got {BlockSize}");
        if (LearningRate is <= 0 or >= 1 || MinLearningRate < 0 || MinLearningRate > LearningRate)
            throw new OptionsException($"lr must be in (0, 1) and 0 ≤ min-lr ≤ lr, got lr {LearningRate}, min-lr {MinLearningRate}");
        if (ValidationFraction is <= 0 or >= 0.5)
            throw new OptionsException($"validation-fraction must be in (0, 0.5), got {ValidationFraction}");
        if (Corpus.Count == 0) throw new OptionsException("corpus: at least one text file is needed");
        // A resumed run reads its token cache; the corpus is needed only if the cache must be rebuilt (checked then).
        if (!Resume)
            foreach (var spec in Corpus)
                if (Corpora.CorpusSource.Parse(spec).Path is var file && !File.Exists(file))
                    throw new UserInputException($"corpus: {file} not found");
        if (!(TokenizerSampleMegabytes > 0) || !double.IsFinite(TokenizerSampleMegabytes))
            throw new OptionsException($"tokenizer-sample-mb must be a positive number, got {TokenizerSampleMegabytes}");
    }
}
