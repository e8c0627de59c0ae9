using System.Globalization;
using System.Text.Json;
using PluginGpt.Abstractions;

namespace PluginGpt.Samples.EventLog;

/// <summary>
/// <c>event-log</c>: a training callback that writes every event of a run, in the order it came, to a CSV file in the run folder
/// (<c>events.csv</c>: event, step, epoch, loss, lr, score, best) — for a spreadsheet, or for a test that checks the order.
/// With <c>stop_below_loss</c> it also ends training once a step's loss falls below that value.
/// </summary>
public sealed class EventLogCallback : ITrainingCallback
{
    public PluginManifest Manifest { get; } = new("event-log", PluginKind.Callback, "1.0.0",
        "Writes a run's training events to events.csv in the run folder; optionally stops below a loss.");

    /// <summary>Options of <c>callbacks[i].options</c> (snake_case in JSON).</summary>
    public sealed record Options
    {
        /// <summary>The CSV file's name inside the run folder.</summary>
        public string File { get; init; } = "events.csv";
        /// <summary>Stop training after the first step whose loss is below this; 0 = never.</summary>
        public double StopBelowLoss { get; init; }
    }

    public ITrainingListener CreateListener(JsonElement options)
    {
        var o = PluginOptions.Bind<Options>(options, "callbacks.options");
        if (o.File.Length == 0 || o.File != Path.GetFileName(o.File))
            throw new OptionsException($"callbacks.options.file: a file name inside the run folder, got \"{o.File}\"");
        if (o.StopBelowLoss < 0) throw new OptionsException($"callbacks.options.stop_below_loss: must be ≥ 0, got {o.StopBelowLoss}");
        return new Listener(o);
    }

    sealed class Listener(Options options) : ITrainingListener
    {
        StreamWriter? writer;

        void Write(string name, int step, int epoch = 0, double? loss = null, double? lr = null, double? score = null,
            bool? best = null)
        {
            static string F(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";
            writer!.WriteLine($"{name},{step},{epoch},{F(loss)},{F(lr)},{F(score)},{best?.ToString().ToLowerInvariant()}");
        }

        public void OnRunStart(TrainingRunInfo run)
        {
            writer = new StreamWriter(Path.Combine(run.RunDirectory, options.File)) { AutoFlush = true };
            writer.WriteLine("event,step,epoch,loss,lr,score,best");
            Write("run_start", 0);
        }

        public void OnStepEnd(StepEndEvent step, TrainingControl control)
        {
            Write("step", step.Step, step.Epoch, step.Loss, step.LearningRate);
            if (options.StopBelowLoss > 0 && step.Loss < options.StopBelowLoss)
                control.RequestStop($"event-log: loss {step.Loss:F4} below {options.StopBelowLoss}");
        }

        public void OnEvaluation(EvaluationEvent evaluation, TrainingControl control) =>
            Write("evaluation", evaluation.Step, evaluation.Epoch, score: evaluation.Score, best: evaluation.IsBest);

        public void OnBestSaved(BestSavedEvent saved) => Write("best_saved", saved.Step);

        public void OnRunEnd(RunEndEvent end)
        {
            Write("run_end", end.Steps);
            writer?.Dispose();
        }
    }
}
