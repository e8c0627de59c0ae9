using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

public class CliTests
{
    internal static void OneLineError(CliRunner.Result r, string mustContain)
    {
        Assert.Equal(2, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(mustContain, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Inspect_reports_GPT2_smalls_exact_count_as_JSON()
    {
        var r = CliRunner.Run("inspect", "--model", "gpt2-small", "--json");
        Assert.Equal(0, r.ExitCode);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(124_439_808, json.GetProperty("totalParameters").GetInt64());
        Assert.Equal(124_439_808, json.GetProperty("trainableParameters").GetInt64());
        Assert.Equal(85_054_464 / 12, json.GetProperty("groups").GetProperty("h.0").GetProperty("total").GetInt64());
    }

    [Fact]
    public void Doctor_sees_LibTorch_and_the_plugins()
    {
        var r = CliRunner.Run("doctor");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("ones(2,2).sum() = 4", r.Stdout);
        Assert.Contains("method:lora", r.Stdout);
        Assert.Contains("task:multiple-choice", r.Stdout);
    }

    /// <summary>The host restarts itself once with glibc's tunables (large blocks kept in the heap, on huge pages), and on an AMD
    /// CPU answers MKL's vendor check; <c>PLUGINGPT_HEAP=default</c> keeps glibc's own settings; the JIT runs without dynamic
    /// PGO; the hand-written kernels run on LibTorch's OpenMP threads.</summary>
    [Fact]
    public void Doctor_reports_the_heap_settings_the_process_started_with_and_the_gemm_path()
    {
        if (!OperatingSystem.IsLinux()) return;
        static string Cells(string table) => new(table.Where(c => !char.IsWhiteSpace(c) && c != '│').ToArray());
        var tuned = CliRunner.Run("doctor");
        Assert.Contains("GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0", Cells(tuned.Stdout));
        bool amd = File.ReadAllText("/proc/cpuinfo").Contains("AuthenticAMD");
        Assert.Equal(amd, Cells(tuned.Stdout).Contains("MKLbyCPUfeatures"));
        // Same seed, same losses even when another process shares the cores: MKL schedules its GEMMs reproducibly.
        Assert.Contains("reproducible(MKL_CBWR=AUTO)", Cells(tuned.Stdout));
        // Which path a cached bf16 step's products and attention take: both need accelerated 512-bit vectors.
        bool wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        Assert.Contains(wide ? "AVX-512matrix–vectorkernelandone-callattention"
            : "LibTorch'sLinearandattention(512-bitvectorsnotacceleratedhere)", Cells(tuned.Stdout));
        // No dynamic PGO (its background re-compiles take a core from training's first seconds), unless the user asks for it.
        Assert.Contains("dynamicPGOoff(plugingpt.runtimeconfig.json)", Cells(tuned.Stdout));
        // The loss's row pass and dropout masks run on LibTorch's own OpenMP threads, unless the user switches that off.
        Assert.Contains("LibTorch'sOpenMPteam(lossrowpass,dropoutmasks,causalsoftmax,tanhGELU)", Cells(tuned.Stdout));
        var userChoice = CliRunner.RunWith(new() { ["MKL_CBWR"] = "COMPATIBLE", ["DOTNET_TieredPGO"] = "1" }, "doctor");
        Assert.Contains("MKL_CBWR=COMPATIBLE", Cells(userChoice.Stdout));
        Assert.Contains("dynamicPGOon(DOTNET_TieredPGO=1)", Cells(userChoice.Stdout));
        var plain = CliRunner.RunWith(new()
        {
            ["PLUGINGPT_HEAP"] = "default",
            ["PLUGINGPT_MKL_DISPATCH"] = "vendor",
            ["DOTNET_TieredCompilation"] = "0",
            ["PLUGINGPT_OPENMP_TEAM"] = "0",
        }, "doctor");
        Assert.Contains("nottiered:everymethodcompiledoptimisedatitsfirstcall(DOTNET_TieredCompilation=0)", Cells(plain.Stdout));
        Assert.Contains("glibc'sdefault(PLUGINGPT_HEAP=default)", Cells(plain.Stdout));
        Assert.Contains("MKL'sownchoice(PLUGINGPT_MKL_DISPATCH=vendor)", Cells(plain.Stdout));
        Assert.Contains(".NET'sthreadpool(PLUGINGPT_OPENMP_TEAM=0)", Cells(plain.Stdout));
    }

    [Fact]
    public void Unknown_preset_is_one_line_listing_the_known_ones() =>
        OneLineError(CliRunner.Run("inspect", "--model", "gpt5"), "known presets: tiny, small, gpt1, gpt2-small");

    [Fact]
    public void Missing_model_folder_is_one_line() =>
        OneLineError(CliRunner.Run("generate", "--model", "/no/such/dir", "--prompt", "x"), "/no/such/dir");

    [Fact]
    public void Missing_corpus_file_is_one_line()
    {
        using var dir = new TempDir();
        OneLineError(CliRunner.Run("pretrain", "--preset", "tiny", "--corpus", dir["missing.txt"], "--out", dir["run"]), "missing.txt");
    }

    [Fact]
    public void Bad_option_value_is_one_line()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run("pretrain", "--max-steps", "many", "--out", dir["run"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("many", r.Stderr);
    }

    [Fact]
    public void Corrupt_checkpoint_names_the_file_and_leaves_it_alone()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        Assert.Equal(0, CliRunner.Run("pretrain", "--preset", "tiny", "--corpus",
            Path.Combine(CliRunner.RepoRoot, "data", "corpus", "sst2-sentences.txt"),
            "--out", run, "--max-steps", "2", "--batch-size", "2", "--eval-interval", "1").ExitCode);
        var weights = Path.Combine(run, "model.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..1000]);
        var before = File.ReadAllBytes(weights);
        OneLineError(CliRunner.Run("generate", "--model", run, "--prompt", "the movie"), Path.Combine(run, "model.safetensors") + ": ");
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void Pretrain_then_generate_end_to_end_with_a_chart_and_a_table()
    {
        using var dir = new TempDir();
        var run = dir["run"];
        var corpus = Path.Combine(CliRunner.RepoRoot, "data", "corpus", "tinyshakespeare.txt");
        var train = CliRunner.Run("pretrain", "--preset", "tiny", "--corpus", corpus, "--out", run, "--max-steps", "20",
            "--batch-size", "4", "--eval-interval", "10");
        Assert.True(train.ExitCode == 0, train.Stderr);
        Assert.Contains("step 20/20", train.Stdout);
        Assert.True(new FileInfo(Path.Combine(run, "loss.png")).Length > 1000);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "loss.md")).Count(l => l.StartsWith("| 1") || l.StartsWith("| 2")));

        var greedy = CliRunner.Run("generate", "--model", run, "--prompt", "ROMEO:", "--max-new-tokens", "12", "--greedy");
        Assert.Equal(0, greedy.ExitCode);
        Assert.StartsWith("ROMEO:", greedy.Stdout);
        Assert.Equal(greedy.Stdout,
            CliRunner.Run("generate", "--model", run, "--prompt", "ROMEO:", "--max-new-tokens", "12", "--greedy").Stdout);

        string[] sample = ["generate", "--model", run, "--prompt", "ROMEO:", "--max-new-tokens", "12", "--temperature", "0.9",
            "--top-k", "50", "--top-p", "0.95", "--repetition-penalty", "1.2", "--seed", "5"];
        var sampled = CliRunner.Run(sample).Stdout;
        Assert.Equal(sampled, CliRunner.Run(sample).Stdout);

        // --stop cuts the continuation just before the stop text.
        var continuation = sampled.TrimEnd('\n')["ROMEO:".Length..];
        Assert.True(continuation.Length >= 6, $"sampled continuation too short to test --stop: '{continuation}'");
        var stopText = continuation.Substring(continuation.Length / 2, 3);
        var stopped = CliRunner.Run([.. sample, "--stop", stopText]).Stdout;
        Assert.Equal("ROMEO:" + continuation[..continuation.IndexOf(stopText, StringComparison.Ordinal)] + "\n", stopped);
    }
}
