using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Core.Training;

/// <summary>Where a fine-tuning run stands at a checkpoint: the next batch to train and what was counted so far. Data order and
/// dropout need nothing more: both are seeded from (seed, epoch, batch), so a resumed run draws what the uninterrupted one
/// drew.</summary>
public sealed record FineTuneState
{
    /// <summary>Optimizer steps taken.</summary>
    [JsonPropertyName("step")] public int Step { get; init; }
    /// <summary>The epoch (1-based) the next batch belongs to.</summary>
    [JsonPropertyName("epoch")] public int Epoch { get; init; }
    /// <summary>The next batch of <see cref="Epoch"/> (its batch count when only the epoch's evaluation is left).</summary>
    [JsonPropertyName("next_batch")] public int NextBatch { get; init; }
    /// <summary>Evaluation lines of metrics.jsonl that belong to the run so far.</summary>
    [JsonPropertyName("evaluations")] public int Evaluations { get; init; }
    [JsonPropertyName("examples_seen")] public long ExamplesSeen { get; init; }
    [JsonPropertyName("training_seconds")] public double TrainingSeconds { get; init; }
}

/// <summary>
/// A fine-tuning run's resumable checkpoint, <c>checkpoint/</c> in the run folder: the method's and the objective's trained
/// tensors (their own save format), the optimizer's state and <see cref="FineTuneState"/>, written to a fresh folder and swapped
/// in, so a kill at any moment leaves the previous checkpoint or the new one whole.
/// </summary>
public static class FineTuneCheckpoint
{
    public const string Dir = "checkpoint";
    const string StateFile = "state.json", OptimizerFile = "optimizer.bin";

    public static void Save(FineTuneJob job, OptimizerStep optimizer, FineTuneState state) =>
        AtomicDirectory.Replace(Path.Combine(job.RunDirectory, Dir), fresh =>
        {
            job.Method.Save(fresh);
            job.Objective.Save(fresh);
            optimizer.Rule.Save(Path.Combine(fresh, OptimizerFile));
            File.WriteAllText(Path.Combine(fresh, StateFile), JsonSerializer.Serialize(state));
        });

    /// <summary>Loads the checkpoint into the run's method, objective and optimizer and says where it stands.</summary>
    public static FineTuneState Load(FineTuneJob job, OptimizerStep optimizer)
    {
        var dir = Path.Combine(job.RunDirectory, Dir);
        AtomicDirectory.Recover(dir);   // a kill mid-swap: the whole version comes back
        var statePath = Path.Combine(dir, StateFile);
        if (!File.Exists(statePath))
            throw new OptionsException($"--resume: {job.RunDirectory} has no complete {Dir}/ (the run stopped before its first " +
                "checkpoint); run the experiment again");
        FineTuneState state;
        try { state = JsonSerializer.Deserialize<FineTuneState>(File.ReadAllText(statePath)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new CheckpointException($"{statePath}: not a checkpoint state ({e.Message})"); }
        job.Method.Load(dir);
        job.Objective.Load(dir);
        optimizer.Rule.Load(Path.Combine(dir, OptimizerFile));
        return state;
    }

    public static void Delete(string runDirectory)
    {
        var dir = Path.Combine(runDirectory, Dir);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
