using PluginGpt.Core.Checkpoints;
using PluginGpt.Core.Corpora;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training.Listeners;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Core.Training;

/// <summary>Result of a pre-training run.</summary>
public sealed record PretrainResult(string Directory, int Steps, double FinalTrainLoss, double? FinalValidationLoss,
    IReadOnlyList<(int Step, double Loss)> ValidationCurve, double TokensPerSecond,
    IReadOnlyDictionary<string, double>? FinalCorpusLosses = null);

/// <summary>
/// Next-token pre-training with teacher forcing. The output directory is a loadable model (config, weights,
/// tokenizer) plus <c>checkpoint/</c> (weights, optimizer, step) from which <c>--resume</c> continues exactly.
/// </summary>
public static partial class Pretrainer
{
    public const string CheckpointDir = "checkpoint";
    const string StateFile = "trainer_state.json", OptimizerFile = "optimizer.bin", MetricsFile = RunFiles.MetricsLines;
    /// <summary>The token cache's folder inside the output folder, unless <see cref="PretrainOptions.TokenCache"/> names another.</summary>
    public const string TokensDir = "tokens";

    public static PretrainResult Run(PretrainOptions o, IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        var (dir, checkpoint, init) = CheckOptions(o);
        // The folder is this process's alone until the run ends: a second pretrain into it is refused, not interleaved.
        using var claim = OutputLock.Acquire(dir, "--out", note => progress?.Report(TrainingProgress.Note(o.MaxSteps, note)));
        bool recovered = AtomicDirectory.Recover(checkpoint);   // a crash between the checkpoint swap's renames
        bool resuming = o.Resume && Directory.Exists(checkpoint);
        if (o.Resume && !resuming) throw new OptionsException($"--resume: {checkpoint} not found; nothing to resume");
        if (!o.Resume) ClaimFresh(dir, o.Overwrite, recovered, o);
        if (resuming) o = ResumedOptions(checkpoint, o);
        var device = DeviceSelector.Parse(o.Device);
        var precision = PrecisionSelector.Resolve(o.Precision, device);
        // Matmuls in bf16 with fp32 master weights, optimizer state and losses (see Autocast); checkpoints stay fp32.
        using var region = Autocast.Use(precision.ComputeType);
        progress?.Report(TrainingProgress.Note(o.MaxSteps, $"precision {precision.Name} ({precision.Reason})"));

        var sources = o.Corpus.Select(CorpusSource.Parse).ToList();
        var tokenizer = resuming ? ModelTokenizer.Load(dir)
            : init is not null ? ModelTokenizer.Load(init)
            : PrepareTokenizer(o, sources, dir, progress);
        var data = LoadMixture(o, sources, dir, tokenizer, progress, cancel);
        var config = resuming ? GptCheckpoint.ReadConfig(dir)
            : init is not null ? GptCheckpoint.ReadConfig(init).WithDropout(o.Dropout)
            : o.Shape.Apply(Presets.Get(o.Preset)).WithDropout(o.Dropout) with { Vocab = tokenizer.VocabSize };
        if (resuming || init is not null) tokenizer.CheckFits(config, resuming ? dir : init!);

        using var model = BuildModel(config, o, tokenizer, init, resuming ? checkpoint : null, out int startStep);
        model.to(device);
        var parameters = TrainableTensor.Defaults(model.named_parameters());
        var schedule = new LearningRateSchedule(o.LearningRate, o.MinLearningRate, o.WarmupSteps, o.MaxSteps);
        using var optimizer = new OptimizerStep(parameters, schedule, o.WeightDecay, o.GradClip);
        if (resuming) LoadOptimizer(optimizer, Path.Combine(checkpoint, OptimizerFile));
        if (!resuming) { GptCheckpoint.Save(model, dir); tokenizer.Save(dir); }
        // A matmul peak (measured once per process) lets every step report MFU (achieved over peak FLOP/s) to telemetry.
        double peak = MatmulPeak.UtilisationPeakGFlops(device, precision.MatmulType);
        return Train(model, optimizer, data, o, dir, startStep, peak, progress, cancel);
    }

    /// <summary>The options' own conflicts, refused before anything is touched: the output folder, its checkpoint folder and
    /// the model to start from (when given).</summary>
    static (string Dir, string Checkpoint, string? Init) CheckOptions(PretrainOptions o)
    {
        o.Validate();
        var dir = Path.GetFullPath(o.OutputDirectory);
        if (o.InitFrom is not null && o.Resume)
            throw new OptionsException("--init-from starts a new run from a model, --resume continues a run: give one of them");
        if (o.Resume && o.Overwrite) throw new OptionsException("--overwrite starts afresh, --resume continues: give one of them");
        var init = o.InitFrom is null ? null : Path.GetFullPath(o.InitFrom);
        if (init is not null && !Directory.Exists(init)) throw new UserInputException($"--init-from: {init} not found");
        return (dir, Path.Combine(dir, CheckpointDir), init);
    }

    /// <summary>The model to train: drawn from the seed, then the weights of <paramref name="init"/> (its vocabulary grown to the
    /// tokenizer's) or of the checkpoint a resumed run continues (<paramref name="checkpoint"/>), whose step it returns.</summary>
    static Decoder BuildModel(GptConfig config, PretrainOptions o, IModelTokenizer tokenizer, string? init, string? checkpoint,
        out int startStep)
    {
        torch.manual_seed(o.Seed);
        var model = new Decoder(config);
        startStep = 0;
        try
        {
            if (init is not null)
            {
                GptCheckpoint.LoadWeightsFrom(model, init);
                // A Hugging Face GPT-2 folder lacks rows for the special tokens PluginGpt's tokenizer appends: grow them (N(0, 0.02)).
                if (tokenizer.VocabSize > model.Config.Vocab) model.ResizeTokenEmbeddings(tokenizer.VocabSize);
            }
            if (checkpoint is null) return model;
            GptCheckpoint.LoadWeights(model, Path.Combine(checkpoint, GptCheckpoint.WeightsFile));
            startStep = ReadState(checkpoint).Step;
            if (startStep < 1 || startStep > o.MaxSteps)
                throw new CheckpointException($"{Path.Combine(checkpoint, StateFile)}: Step must be a step of this run " +
                    $"(1 to {o.MaxSteps}), got {startStep}");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The steps from <paramref name="startStep"/> to the last (<see cref="TrainingStep"/> does each step's bookkeeping);
    /// after each, the held-out losses when due, the metrics line, progress and the checkpoint when due. A cancelled run
    /// keeps a checkpoint of the step it reached.</summary>
    static PretrainResult Train(Decoder model, OptimizerStep optimizer, CorpusMixture data, PretrainOptions o, string dir,
        int startStep, double peak, IProgress<TrainingProgress>? progress, CancellationToken cancel)
    {
        int block = o.BlockSize == 0 ? model.Config.Context : Math.Min(o.BlockSize, model.Config.Context);
        using var metrics = OpenMetrics(Path.Combine(dir, MetricsFile), startStep);
        using var runSpan = Telemetry.Source.StartActivity("run");
        runSpan?.SetTag("command", "pretrain");
        var curve = new List<(int, double)>();
        double lastLoss = double.NaN, tokensPerSecond = 0;
        double? lastValidation = null;
        IReadOnlyDictionary<string, double>? lastCorpusLosses = null;
        int step = startStep;
        var events = new TrainingEvents([new TelemetryListener(model, peak)]);
        events.RunStart(new TrainingRunInfo(dir, o.MaxSteps, ParameterSet.Count(model.parameters()), "loss"));
        var steps = new TrainingStep(model, optimizer, events);
        steps.Restart();
        for (; step < o.MaxSteps && !cancel.IsCancellationRequested; step++)
        {
            model.train();
            int atStep = step;
            lastLoss = steps.AccumulateLanguageModel(TokenDataset.StableSeed(o.Seed, 2, step), o.BatchSize, model,
                () => data.TrainBatch(atStep, o.BatchSize, block, o.Seed, model.Device), 1,
                loss => $"step {atStep + 1}: the training loss is {loss} (training diverged); lower --lr (was {o.LearningRate}) " +
                    $"or raise --warmup-steps; {dir} keeps its last checkpoint");
            var ended = steps.Step(step + 1, 1);
            double lr = ended.LearningRate, seconds = ended.StepSeconds;
            tokensPerSecond = ended.TokensPerSecond;
            double? validation = null;
            IReadOnlyDictionary<string, double>? corpusLosses = null;
            bool last = step + 1 == o.MaxSteps;
            if ((step + 1) % o.EvalInterval == 0 || last)
            {
                using (Telemetry.Source.StartActivity("evaluation"))
                    (validation, corpusLosses) = Evaluate(model, data, o, block, model.Device);
                (lastValidation, lastCorpusLosses) = (validation, corpusLosses);
                curve.Add((step + 1, validation.Value));
            }
            RunFiles.Append(metrics, new MetricsLine
            {
                Step = step + 1,
                Loss = lastLoss,
                LearningRate = lr,
                TokensPerSecond = tokensPerSecond,
                StepSeconds = seconds,
                ValidationLoss = validation,
                Eval = data.Parts.Count > 1 ? corpusLosses : null,
            });
            progress?.Report(new TrainingProgress(step + 1, o.MaxSteps, lastLoss, lr, tokensPerSecond, seconds, validation));
            if ((step + 1) % o.CheckpointInterval == 0 || last) SaveCheckpoint(model, optimizer, dir, step + 1, o);
        }
        if (cancel.IsCancellationRequested && step > startStep) SaveCheckpoint(model, optimizer, dir, step, o);
        return new PretrainResult(dir, step, lastLoss, lastValidation, curve, tokensPerSecond, lastCorpusLosses);
    }

    /// <summary>Each corpus's mean loss over fixed held-out batches of its own held-out part (the same ones at every
    /// evaluation), and their mean weighted as the mixture samples them.</summary>
    public static (double Mixture, IReadOnlyDictionary<string, double> PerCorpus) Evaluate(Decoder model, CorpusMixture data,
        PretrainOptions o, int block, Device device)
    {
        using var _ = torch.no_grad();
        using var casts = Autocast.CacheCasts();
        model.eval();
        var perCorpus = new Dictionary<string, double>();
        double mixture = 0;
        for (int c = 0; c < data.Parts.Count; c++)
        {
            double sum = 0;
            for (int i = 0; i < o.EvalBatches; i++)
            {
                // A scope per batch: one around the whole evaluation kept every batch's activations alive until the end
                // (32 batches of 16 × 256 tokens: ~15 GB that the allocator then kept).
                using var scope = torch.NewDisposeScope();
                var (x, y) = data.Parts[c].Batch(true, i, o.BatchSize, block, o.Seed, device);
                sum += model.LanguageModelLoss(x, y).item<float>();
            }
            perCorpus[UniqueName(data.Sources, c)] = sum / o.EvalBatches;
            mixture += data.Probabilities[c] * sum / o.EvalBatches;
        }
        model.train();
        return (mixture, perCorpus);
    }

    /// <summary>The corpus's name, with its position added when two corpora share a name.</summary>
    static string UniqueName(IReadOnlyList<CorpusSource> sources, int index) =>
        sources.Count(s => s.Name == sources[index].Name) > 1 ? $"{sources[index].Name}#{index + 1}" : sources[index].Name;

    static IModelTokenizer PrepareTokenizer(PretrainOptions o, IReadOnlyList<CorpusSource> sources, string dir,
        IProgress<TrainingProgress>? progress)
    {
        if (o.Tokenizer != "bpe") return ModelTokenizer.Load(o.Tokenizer);
        int vocab = o.Shape.Apply(Presets.Get(o.Preset)).Vocab;
        progress?.Report(TrainingProgress.Note(o.MaxSteps,
            $"training a {vocab}-token byte-level BPE on a {o.TokenizerSampleMegabytes} MB sample of the mixture"));
        return BpeTrainer.Train(TokenizerSample.Texts(sources, (long)(o.TokenizerSampleMegabytes * 1e6)), vocab, dir);
    }

    /// <summary>Every corpus's tokens from the token cache (encoded and checked against the evaluation sets when missing).</summary>
    static CorpusMixture LoadMixture(PretrainOptions o, IReadOnlyList<CorpusSource> sources, string dir, IModelTokenizer tokenizer,
        IProgress<TrainingProgress>? progress, CancellationToken cancel)
    {
        var cache = o.TokenCache is null ? Path.Combine(dir, TokensDir) : Path.GetFullPath(o.TokenCache);
        var evaluation = new EvaluationTextIndex(o.EvaluationTexts);
        string fingerprint = CorpusTokenCache.Fingerprint(tokenizer) + evaluation.Fingerprint();
        var encoded = sources.Select(s => CorpusTokenCache.Load(s, tokenizer, fingerprint, cache, evaluation,
            note => progress?.Report(TrainingProgress.Note(o.MaxSteps, note)), cancel)).ToList();
        ContaminationReport.Write(dir, evaluation, sources, encoded);
        return new CorpusMixture(sources, [.. encoded.Select(e => e.Tokens)], o.ValidationFraction);
    }

    /// <summary>Appends to metrics.jsonl, first dropping lines past the step a resumed run restarts from.</summary>
    static StreamWriter OpenMetrics(string path, int startStep)
    {
        var kept = File.Exists(path) ? RunFiles.ReadLines(path).Where(l => l.Step <= startStep).ToList() : [];
        var writer = new StreamWriter(path, append: false) { AutoFlush = true };
        foreach (var line in kept) RunFiles.Append(writer, line);
        return writer;
    }
}
