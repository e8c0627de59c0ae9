using System.CommandLine;
using PluginGpt.Runs;

namespace PluginGpt.Host.Commands;

/// <summary><c>--adapter NAME=RUN_DIR</c> (repeatable) and <c>--active NAME</c>: finished runs on one base model, by name,
/// instead of one run — shared by <c>predict</c>, <c>generate</c> and <c>export</c>.</summary>
public sealed class AdapterOptions
{
    public Option<string[]> Adapters { get; } = new("--adapter")
    {
        Description = "NAME=RUN_DIR, repeatable, instead of one run: finished runs on one base model, loaded once by name",
    };

    public Option<string?> Active { get; } = new("--active")
    {
        Description = "with --adapter: the adapter to use (predict: for lines that name none); default: the first",
    };

    /// <summary>The named runs given (none when <c>--adapter</c> is absent); <c>--active</c> without them is refused.</summary>
    public IReadOnlyList<NamedRun> Named(ParseResult parse)
    {
        var named = (parse.GetValue(Adapters) ?? []).Select(a => NamedRun.Parse(a, "--adapter")).ToList();
        if (named.Count == 0 && parse.GetValue(Active) is not null) throw new OptionsException("--active: it picks among --adapter runs");
        return named;
    }

    /// <summary>A run folder or named runs, exactly one of the two.</summary>
    public IReadOnlyList<NamedRun> NamedInsteadOf(ParseResult parse, string? run, string runOption)
    {
        var named = Named(parse);
        if ((run is null) == (named.Count == 0))
            throw new OptionsException($"{runOption} / --adapter: give a run folder, or named runs with --adapter NAME=RUN_DIR (not both)");
        return named;
    }

    /// <summary>The active named run, opened as <c>--run</c> opens one run.</summary>
    public T OpenActive<T>(FinishedRuns runs, ParseResult parse, Func<OpenedRun, T> use) =>
        runs.OpenAdapters(Named(parse), parse.GetValue(Active), set => use(set.Opened()));
}
