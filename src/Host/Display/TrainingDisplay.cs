using PluginGpt.Core.Training;
using Spectre.Console;

namespace PluginGpt.Host.Display;

/// <summary>
/// Shows a training loop's progress: a live bar with loss, tokens/s and ETA on a terminal, plain lines
/// (one per evaluation) when output is redirected, as in CI logs.
/// </summary>
public static class TrainingDisplay
{
    public static T Run<T>(IAnsiConsole console, string title, int totalSteps, Func<IProgress<TrainingProgress>, T> work)
    {
        if (!console.Profile.Capabilities.Interactive)
            return work(new LineReporter(title));
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: totalSteps);
                result = work(new BarReporter(task, title));
            });
        return result;
    }

    static string Describe(string title, TrainingProgress p, double? lastValidation) =>
        p.Message ?? $"{title} step {p.Step}/{p.TotalSteps} loss {p.Loss:F3}"
            + (lastValidation is { } v ? $" val {v:F3} (ppl {Math.Exp(v):F1})" : "") + $" {p.Throughput:N0} {p.ThroughputUnit}";

    sealed class BarReporter(ProgressTask task, string title) : IProgress<TrainingProgress>
    {
        double? lastValidation;
        public void Report(TrainingProgress p)
        {
            lastValidation = p.ValidationLoss ?? lastValidation;
            task.Description = Markup.Escape(Describe(title, p, lastValidation));
            if (p.Message is null) task.Value = p.Step;
        }
    }

    sealed class LineReporter(string title) : IProgress<TrainingProgress>
    {
        readonly DateTime started = DateTime.UtcNow;
        public void Report(TrainingProgress p)
        {
            if (p.Message is not null) { Console.WriteLine($"{title}: {p.Message}"); return; }
            if (p.ValidationLoss is null && p.Step != 1) return;
            var elapsed = DateTime.UtcNow - started;
            var eta = TimeSpan.FromSeconds(elapsed.TotalSeconds / p.Step * (p.TotalSteps - p.Step));
            Console.WriteLine(Describe(title, p, p.ValidationLoss)
                + $" elapsed {elapsed:mm\\:ss} eta {eta:mm\\:ss}");   // plain: no wrapping at 80 columns in logs
        }
    }
}
