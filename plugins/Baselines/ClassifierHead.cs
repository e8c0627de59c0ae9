using PluginGpt.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PluginGpt.Plugins.Baselines;

/// <summary>
/// <c>classifier-head</c>: GPT-1's objective. A linear head reads the hidden state at the extract token; the loss is
/// L3 = L2 (task) + λ·L1 (language modelling on the same inputs), λ = <c>lm_coef</c>.
/// </summary>
public sealed class ClassifierHead : IObjective
{
    public PluginManifest Manifest { get; } = new("classifier-head", PluginKind.Objective, "1.0.0",
        "Linear head on the extract token with GPT-1 input transforms and optional auxiliary LM loss (L2 + λ·L1).");

    public sealed record Options
    {
        /// <summary>λ, the weight of the auxiliary language-modelling loss (GPT-1: 0.5).</summary>
        public double LmCoef { get; init; } = 0.5;
        /// <summary>Dropout before the head (GPT-1: 0.1).</summary>
        public double Dropout { get; init; } = 0.1;
        /// <summary>Tokens per sequence; 0 = the model's context.</summary>
        public int MaxLength { get; init; }
        /// <summary><c>last</c>: the extract token's state (GPT-1); <c>mean</c>: the mean over each sequence's real tokens.</summary>
        public string Pooling { get; init; } = "last";
        /// <summary>Which hidden state the head reads: null the final one (after <c>ln_f</c>); 0 the embeddings; k the residual
        /// stream after k blocks (a probe at any layer).</summary>
        public int? Layer { get; init; }
        /// <summary>Similarity tasks: the two input orders' features summed (GPT-1) or concatenated (the head sees 2·d).</summary>
        public string Combine { get; init; } = "sum";
        /// <summary>Distillation temperature T for examples with soft targets (PET: 2): the loss is T²·KL(q ‖ softmax(z/T)).</summary>
        public double Temperature { get; init; } = 1;
    }

    public IObjectiveInstance Create(ObjectiveContext context)
    {
        var o = PluginOptions.Bind<Options>(context.Options, "objective.options");
        PluginOptions.Require(o.LmCoef >= 0, "objective.options", "lm_coef", $"must be ≥ 0, got {o.LmCoef}");
        PluginOptions.Require(o.Dropout is >= 0 and < 1, "objective.options", "dropout", $"must be in [0, 1), got {o.Dropout}");
        PluginOptions.Require(o.MaxLength >= 0, "objective.options", "max_length", $"must be ≥ 0, got {o.MaxLength}");
        PluginOptions.Require(o.Pooling is "last" or "mean", "objective.options", "pooling",
            $"must be 'last' or 'mean', got '{o.Pooling}'");
        PluginOptions.Require(o.Temperature > 0, "objective.options", "temperature", $"must be > 0, got {o.Temperature}");
        int layers = context.Model.Config.Layers;
        PluginOptions.Require(o.Layer is null || (o.Layer >= 0 && o.Layer <= layers), "objective.options", "layer",
            $"must be in [0, {layers}] (0: the embeddings, k: after k blocks), got {o.Layer}");
        PluginOptions.Require(o.Combine is "sum" or "concat", "objective.options", "combine",
            $"must be 'sum' or 'concat', got '{o.Combine}'");
        PluginOptions.Require(o.Combine == "sum" || context.Task.Format == InputFormat.SymmetricPair, "objective.options", "combine",
            "concat combines a similarity task's two input orders; this task has one input order");
        return new Instance(context, o);
    }

    sealed class Instance : IObjectiveInstance
    {
        readonly ObjectiveContext context;
        readonly Options options;
        readonly OwnedModule<HeadModule> owned;
        readonly int maxLength;

        public Instance(ObjectiveContext context, Options options)
        {
            this.context = context;
            this.options = options;
            var model = context.Model;
            maxLength = context.Room(options.MaxLength);
            bool concat = options.Combine == "concat";
            var head = new HeadModule(concat ? 2 * model.Config.ModelDim : model.Config.ModelDim, context.Task.OutputSize,
                options.Dropout, model.Device);
            // In the model's tree: the model's train()/eval() switch its dropout, the tree counts its parameters.
            owned = OwnedModule.Attach(model, "head", head);
            Parameters = [("head.weight", head.linear.weight!), ("head.bias", head.linear.bias!)];
        }

        public IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }
        public bool Trains => true;

        /// <summary>Hidden states [N, T, C] of every sequence of the batch, their extract-token rows [N, C], ids and lengths.</summary>
        (Tensor Hidden, Tensor Features, Tensor Ids, Tensor Lengths) Encode(IReadOnlyList<Example> batch)
        {
            var sequences = batch.SelectMany(e => InputTransforms.Sequences(e, context.Task.Format, context.Tokenizer, maxLength)).ToList();
            int width = sequences.Max(s => s.Length);
            var ids = new long[sequences.Count * width];
            Array.Fill(ids, context.Tokenizer.Pad);
            for (int i = 0; i < sequences.Count; i++) for (int t = 0; t < sequences[i].Length; t++) ids[i * width + t] = sequences[i][t];
            var device = context.Model.Device;
            var idTensor = torch.tensor(ids, [sequences.Count, width], device: device);
            var lengths = torch.tensor(sequences.Select(s => (long)s.Length).ToArray(), device: device);
            // Right padding under a causal mask: real tokens never see the pads, so no attention mask is needed.
            Tensor hidden, read;
            if (options.Layer is not { } layer) read = hidden = context.Model.Forward(idTensor);
            // A probe at layer k computes no later block, unless the auxiliary LM loss needs the last one.
            else if (options.LmCoef == 0) read = hidden = context.Model.ForwardToLayer(idTensor, null, layer);
            else
            {
                var states = new List<Tensor>();
                hidden = context.Model.Forward(idTensor, null, states);
                read = states[layer];
            }
            read = Autocast.Float(read);   // the head reads fp32
            Tensor features;
            if (options.Pooling == "mean")
            {
                // Padding-aware: positions at or past a sequence's length count for nothing.
                var real = torch.arange(width, device: device).unsqueeze(0).lt(lengths.unsqueeze(1))
                    .to(read.dtype).unsqueeze(2);   // [N, T, 1]
                features = (read * real).sum(1) / lengths.unsqueeze(1).to(read.dtype);
            }
            else features = read.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, read.shape[2])).squeeze(1);   // [N, C]
            return (hidden, features, idTensor, lengths);
        }

        Tensor Outputs(Tensor features, int examples)
        {
            var format = context.Task.Format;
            // Both orders: summed (GPT-1) or side by side.
            if (format == InputFormat.SymmetricPair)
                features = options.Combine == "concat" ? features.view(examples, -1) : features.view(examples, 2, -1).sum(1);
            var outputs = owned.Module.call(features);
            return format == InputFormat.MultipleChoice ? outputs.view(examples, -1) : outputs;   // one score per option
        }

        public Tensor Loss(IReadOnlyList<Example> batch)
        {
            var (hidden, features, ids, lengths) = Encode(batch);
            var outputs = Outputs(features, batch.Count);
            var device = context.Model.Device;
            Tensor taskLoss = context.Task.IsRegression
                ? functional.mse_loss(outputs.squeeze(1), torch.tensor(batch.Select(e => (float)e.Target).ToArray(), device: device))
                : batch[0].Soft is not null ? Distillation(outputs, batch)
                : functional.cross_entropy(outputs, torch.tensor(batch.Select(e => (long)e.Label).ToArray(), device: device));
            if (options.LmCoef == 0) return taskLoss;
            var lm = options.LmCoef * LanguageModelLoss(hidden, ids, lengths);
            LossParts = LossTerms.Read(("task", taskLoss), ("lm", lm));
            return taskLoss + lm;
        }

        /// <summary>L3's two terms: the task loss L2 and λ·L1.</summary>
        public IReadOnlyDictionary<string, double>? LossParts { get; private set; }

        /// <summary>
        /// Knowledge distillation on soft targets q (a teacher's softmax at temperature T): T²·KL(q ‖ softmax(z/T)), averaged over
        /// the batch (Hinton et al. 2015; PET's distillation with T = 2).
        /// </summary>
        Tensor Distillation(Tensor outputs, IReadOnlyList<Example> batch)
        {
            if (batch.Any(e => e.Soft is null || e.Soft.Count != outputs.shape[1]))
                throw new DataException(
                    $"task {context.Task.Name}: a batch mixes soft targets with labels, or a soft target has the wrong size");
            var q = torch.tensor(batch.SelectMany(e => e.Soft!.Select(v => (float)v)).ToArray(), [batch.Count, outputs.shape[1]],
                device: outputs.device);
            double t = options.Temperature;
            var logP = (outputs / t).log_softmax(1);
            return (q * (q.clamp_min(1e-12).log() - logP)).sum(1).mean() * (t * t);
        }

        /// <summary>L1: next-token cross-entropy over each sequence's real tokens, from the same forward pass.</summary>
        Tensor LanguageModelLoss(Tensor hidden, Tensor ids, Tensor lengths)
        {
            var targets = ids[.., 1..].clone();
            var positions = torch.arange(1, ids.shape[1], device: ids.device).unsqueeze(0);
            targets.masked_fill_(positions.ge(lengths.unsqueeze(1)), -1);
            return PluginGpt.Abstractions.LanguageModelLoss.Mean(context.Model, hidden[.., ..^1], targets);
        }

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch)
        {
            using var _ = torch.no_grad();
            var outputs = Outputs(Encode(batch).Features, batch.Count).to(ScalarType.Float64).cpu();
            if (context.Task.IsRegression)
                return outputs.squeeze(1).data<double>().Select(v => new Prediction(-1, v, [])).ToList();
            var probabilities = outputs.softmax(1);
            var list = new List<Prediction>();
            for (int i = 0; i < batch.Count; i++)
            {
                var row = probabilities[i].data<double>().ToArray();
                int best = Array.IndexOf(row, row.Max());
                list.Add(new Prediction(best, row[best], row));
            }
            return list;
        }

        /// <summary>The head and its dropout are this objective's own (saved by the default Save as <c>head.safetensors</c>).</summary>
        public void Dispose() => owned.Dispose();
    }

    /// <summary>Dropout, then a linear map from the pooled features to the task's outputs (N(0, 0.02) weights, zero bias).</summary>
    sealed class HeadModule : Module<Tensor, Tensor>
    {
        internal readonly Linear linear;
        readonly FastDropoutLayer dropout;

        public HeadModule(long inputs, long outputs, double dropoutRate, Device device) : base("ClassifierHead")
        {
            linear = Linear(inputs, outputs, device: device);
            using (torch.NewDisposeScope())
            using (torch.no_grad()) { init.normal_(linear.weight!, 0, 0.02); init.zeros_(linear.bias!); }
            dropout = new FastDropoutLayer(dropoutRate);
            RegisterComponents();
        }

        public override Tensor forward(Tensor features) => linear.call(dropout.call(features));

        protected override void Dispose(bool disposing)
        {
            if (disposing) { linear.Dispose(); dropout.Dispose(); }
            base.Dispose(disposing);
        }
    }
}
