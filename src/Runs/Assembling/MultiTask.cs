using PluginGpt.Core.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PluginGpt.Runs;

/// <summary>One task of a multi-task run: its key in metric names (the data set's name), plugin, data and objective.</summary>
public sealed record TaskMember(string Key, ITaskPlugin Plugin, TaskData Data);

/// <summary>
/// Several tasks trained as one (T5's multi-task training): their examples mixed into one stream by a <see cref="TaskMixture"/>,
/// one objective instance per task (each builds its own prompts and answers) behind one composite, and one score: every task's
/// metrics as <c>KEY.metric</c> and the mean of their primary metrics as <c>mean</c>, which picks the best epoch.
/// </summary>
public sealed class MultiTask
{
    public const string MeanMetric = "mean";

    readonly IReadOnlyList<TaskMember> members;
    readonly TaskMixture mixture;
    // Which task an example belongs to, by reference: equal texts in two tasks are still two examples.
    readonly Dictionary<Example, int> owner = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<TaskMember> Members => members;
    public TaskMixture Mixture => mixture;
    /// <summary>The tasks as one: epoch 1's draws as training set, every dev set in turn, primary metric <c>mean</c>.</summary>
    public TaskData Data { get; }
    public ITaskPlugin Scoring { get; }

    public MultiTask(IReadOnlyList<TaskMember> members, MixingSpec mixing, int seed)
    {
        this.members = members;
        for (int m = 0; m < members.Count; m++)
            foreach (var e in members[m].Data.Train.Concat(members[m].Data.Dev)) owner[e] = m;
        mixture = new TaskMixture([.. members.Select(t => t.Data.Train.Count)], mixing.Strategy, mixing.Limit, mixing.Temperature, seed);
        Data = new TaskData(string.Join("+", members.Select(t => t.Key)), members[0].Data.Format, [], TrainFor(1),
            [.. members.SelectMany(t => t.Data.Dev)], MeanMetric);
        Scoring = new CompositeScoring(this);
    }

    /// <summary>Epoch <paramref name="epoch"/>'s mixed training examples.</summary>
    public IReadOnlyList<Example> TrainFor(int epoch) =>
        [.. mixture.Epoch(epoch).Select(d => members[d.Task].Data.Train[d.Index])];

    /// <summary>The composite objective over each task's own instance (in <see cref="Members"/>' order); it owns them.</summary>
    public IObjectiveInstance Objective(IReadOnlyList<IObjectiveInstance> instances) => new CompositeObjective(this, instances);

    /// <summary>The task an example came from. Examples are known by reference: those of another load of the same tasks (a
    /// recipe that loads its data twice) belong to none.</summary>
    int Owner(Example e) => owner.TryGetValue(e, out var m) ? m
        : throw new UserInputException("a multi-task run scores only its own tasks' examples (loaded with the run); " +
            "this one came from elsewhere");

    /// <summary>Runs <paramref name="each"/> on every task's share of <paramref name="batch"/> and puts the answers back in
    /// order.</summary>
    IReadOnlyList<Prediction> PerTask(IReadOnlyList<Example> batch, Func<int, IReadOnlyList<Example>, IReadOnlyList<Prediction>> each)
    {
        var results = new Prediction[batch.Count];
        foreach (var group in Enumerable.Range(0, batch.Count).GroupBy(i => Owner(batch[i])))
        {
            var indices = group.ToList();
            var predictions = each(group.Key, [.. indices.Select(i => batch[i])]);
            for (int j = 0; j < indices.Count; j++) results[indices[j]] = predictions[j];
        }
        return results;
    }

    sealed class CompositeObjective(MultiTask multi, IReadOnlyList<IObjectiveInstance> instances) : IObjectiveInstance
    {
        readonly string[] alternatives = [.. instances.Select(i => i.Alternatives).Aggregate((a, b) => [.. a.Intersect(b)])];

        public bool Trains => instances.All(i => i.Trains);
        public bool MayAnswerInvalid => instances.Any(i => i.MayAnswerInvalid);
        public IReadOnlyList<string> Alternatives => alternatives;

        /// <summary>Each task's head (if any) under its task's key.</summary>
        public IReadOnlyList<(string Name, Parameter Parameter)> Parameters =>
            [.. instances.SelectMany((inst, m) => inst.Parameters.Select(p => ($"{multi.members[m].Key}.{p.Name}", p.Parameter)))];

        public ParameterSettings SettingsFor(string name, Parameter parameter)
        {
            int m = multi.members.ToList().FindIndex(t => name.StartsWith(t.Key + ".", StringComparison.Ordinal));
            return instances[m].SettingsFor(name[(multi.members[m].Key.Length + 1)..], parameter);
        }

        /// <summary>Every task's mean loss weighted by its share of the batch: the mean over the batch's examples.</summary>
        public Tensor Loss(IReadOnlyList<Example> batch)
        {
            Tensor? total = null;
            var parts = new Dictionary<string, double>();
            foreach (var group in batch.GroupBy(multi.Owner))
            {
                double share = group.Count() / (double)batch.Count;
                var part = instances[group.Key].Loss([.. group]) * share;
                total = total is null ? part : total + part;
                foreach (var (name, value) in instances[group.Key].LossParts ?? new Dictionary<string, double>())
                    parts[name] = parts.GetValueOrDefault(name) + value * share;
            }
            LossParts = parts.Count > 0 ? parts : null;
            return total!;
        }

        /// <summary>The members' loss terms, weighted as their losses are.</summary>
        public IReadOnlyDictionary<string, double>? LossParts { get; private set; }

        public IReadOnlyList<Prediction> Predict(IReadOnlyList<Example> batch) => multi.PerTask(batch, (m, b) => instances[m].Predict(b));

        public IReadOnlyList<Prediction> PredictAlternative(string name, IReadOnlyList<Example> batch) =>
            multi.PerTask(batch, (m, b) => instances[m].PredictAlternative(name, b));

        /// <summary>Each task's own weights in a folder named by its key.</summary>
        public void Save(string directory)
        {
            for (int m = 0; m < instances.Count; m++)
                if (instances[m].Parameters.Count > 0)
                {
                    var own = Directory.CreateDirectory(Path.Combine(directory, multi.members[m].Key)).FullName;
                    instances[m].Save(own);
                }
        }

        public void Load(string directory)
        {
            for (int m = 0; m < instances.Count; m++)
                if (instances[m].Parameters.Count > 0) instances[m].Load(Path.Combine(directory, multi.members[m].Key));
        }

        public void Dispose()
        {
            foreach (var instance in instances) instance.Dispose();
        }
    }

    /// <summary>Scores each task's share of the predictions with its own plugin; <c>mean</c> is the mean of their primary
    /// metrics.</summary>
    sealed class CompositeScoring(MultiTask multi) : ITaskPlugin
    {
        public PluginManifest Manifest { get; } = new("multi-task", PluginKind.Task, "1.0.0", "Several tasks scored together.");

        public TaskData Load(TaskContext context) => throw new NotSupportedException("a multi-task run loads each of its tasks");

        public IReadOnlyDictionary<string, double> Score(IReadOnlyList<Prediction> predictions, IReadOnlyList<Example> gold)
        {
            var scores = new Dictionary<string, double>();
            var primaries = new List<double>();
            foreach (var group in Enumerable.Range(0, gold.Count).GroupBy(i => multi.Owner(gold[i])).OrderBy(g => g.Key))
            {
                var member = multi.members[group.Key];
                var own = member.Plugin.Score([.. group.Select(i => predictions[i])], [.. group.Select(i => gold[i])]);
                foreach (var (k, v) in own) scores[$"{member.Key}.{k}"] = v;
                scores[$"{member.Key}.invalid_rate"] = group.Count(i => predictions[i].Invalid) / (double)group.Count();
                primaries.Add(own[member.Data.PrimaryMetric]);
            }
            return new Dictionary<string, double> { [MeanMetric] = primaries.Average() }.Concat(scores).ToDictionary();
        }
    }
}
