using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>Every bad input: one line naming the file and field, exit code 2, no stack trace, no run folder damaged.</summary>
public class BadInputTests
{
    /// <summary>A refused command: exit 2, one line on stderr holding every one of <paramref name="mustContain"/>, no trace.</summary>
    internal static void OneLine(CliRunner.Result r, params string[] mustContain)
    {
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.Stderr}");
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        foreach (var s in mustContain) Assert.Contains(s, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Malformed_JSON_names_line_and_column()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["x.json"], "{\n  \"name\": \"x\",\n  \"task\": { \"name\": }\n}");
        OneLine(CliRunner.Run("run", dir["x.json"]), dir["x.json"] + ":3:", "malformed JSON");
    }

    [Fact]
    public void Unknown_field_is_refused_with_its_path()
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "training.learning_rate=0.1", "--set", $"output={dir["run"]}"),
            "training.learning_rate");
    }

    [Fact]
    public void Unknown_plugin_lists_the_known_ones()
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "method.name=lorax", "--set", $"output={dir["run"]}"),
            "method.name", "unknown method 'lorax'", "full");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "task.name=summarization", "--set", $"output={dir["run"]}"),
            "task.name", "classification, multiple-choice, nli, similarity");
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Missing_data_file_is_named()
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "task.dataset=null", "--set", $"task.train={dir["nope.tsv"]}",
            "--set", $"output={dir["run"]}"), dir["nope.tsv"], "not found");
    }

    [Fact]
    public void Row_with_a_missing_column_or_unknown_label_names_file_line_and_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["train.tsv"], "text\tlabel\ngood film\tpos\nbad film\tneg\nbroken row\n");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "task.dataset=null", "--set", $"task.train={dir["train.tsv"]}",
            "--set", $"output={dir["run"]}"), dir["train.tsv"] + ":4", "1 fields where every row has 2");

        File.WriteAllText(dir["train2.tsv"], "text\tlabel\ngood film\tpos\nbad film\tneg\n");
        File.WriteAllText(dir["dev2.tsv"], "text\tlabel\nfine film\tmaybe\n");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "task.dataset=null", "--set", $"task.train={dir["train2.tsv"]}",
            "--set", $"task.dev={dir["dev2.tsv"]}", "--set", $"output={dir["run"]}"),
            dir["dev2.tsv"] + ":2", "unknown label 'maybe'", "neg, pos");
    }

    [Fact]
    public void Option_out_of_range_names_the_field()
    {
        using var dir = new TempDir();
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "training.lr=5", "--set", $"output={dir["run"]}"), "training.lr", "(0, 1)");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "objective.options.dropout=1.5", "--set", $"output={dir["run"]}"),
            "objective.options.dropout");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "objective.options.lm_coeff=1", "--set", $"output={dir["run"]}"),
            "objective.options", "lm_coeff");
    }

    [Fact]
    public void An_earlier_run_folder_is_never_touched()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliRunner.Run("run", Experiments.Tiny, "--set", "training.epochs=1", "--set", $"output={dir["run"]}").ExitCode);
        var before = Directory.GetFiles(dir["run"], "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", $"output={dir["run"]}"), "already exists");
        OneLine(CliRunner.Run("run", Experiments.Tiny, "--set", "training.epochs=0", "--set", $"output={dir["run"]}"), "training.epochs");
        foreach (var (f, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(f));
    }

    [Fact]
    public void A_plugin_bug_is_one_line_exit_1_naming_the_plugin_with_the_stack_trace_in_a_crash_log()
    {
        using var dir = new TempDir();
        var broken = Path.Combine(CliRunner.RepoRoot, "artifacts", "test-plugins", "BrokenPlugin");
        var r = CliRunner.Run("run", Experiments.Tiny, "--plugins", broken,
            "--set", "method.name=throws-on-attach", "--set", $"output={dir["run"]}");
        Assert.Equal(1, r.ExitCode);
        // Named as the plugin's bug, with its assembly, not as PluginGpt's internal error.
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("a bug in plugin "));
        Assert.Contains("BrokenPlugin", line);
        Assert.Contains("InvalidOperationException: deliberately broken attach (stack trace in ", line);
        var log = line[(line.IndexOf("stack trace in ", StringComparison.Ordinal) + "stack trace in ".Length)..^1];
        Assert.Contains("ThrowsOnAttachMethod.Attach", File.ReadAllText(log));
        Assert.False(Directory.Exists(dir["run"]), "a run that failed to start leaves no folder");
    }

    [Fact]
    public void A_machine_where_LibTorch_cannot_load_gets_one_line_not_a_crash()
    {
        // The program without LibTorch's native files: what a machine of another platform, or one missing a system library, sees.
        using var dir = new TempDir();
        var from = AppContext.BaseDirectory;
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var name = Path.GetFileName(file);
            if (name.StartsWith("libtorch") || name.StartsWith("libc10") || name.StartsWith("libLibTorchSharp")) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir["host"], relative))!);
            File.Copy(file, Path.Combine(dir["host"], relative));
        }
        // TorchSharp's fallback would copy LibTorch out of the NuGet cache: point it at an empty one.
        var r = DotnetCli.Start("dotnet", dir.Path, new Dictionary<string, string> { ["NUGET_PACKAGES"] = dir["no-packages"] },
            dir["host/plugingpt.dll"], "inspect", "--model", "tiny");
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var platform = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Assert.StartsWith(
            $"error: LibTorch could not be loaded on this machine ({platform}; PluginGpt carries LibTorch's linux-x64 build): ", line);
    }
}
