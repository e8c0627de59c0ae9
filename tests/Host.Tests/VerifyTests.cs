using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary><c>plugingpt verify</c>: every shipped method keeps the contract, and a method that breaks it is caught check by
/// check.</summary>
public class VerifyTests
{
    static IReadOnlyList<JsonElement> Verify(int expectedExit, params string[] args)
    {
        var r = CliRunner.Run(["verify", "--json", .. args]);
        Assert.True(r.ExitCode == expectedExit, r.Stdout + r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().ToList();
    }

    static IEnumerable<string> Failed(JsonElement method) =>
        method.GetProperty("checks").EnumerateArray().Where(c => !c.GetProperty("passed").GetBoolean())
            .Select(c => c.GetProperty("name").GetString()!);

    [Fact]
    public void Every_shipped_method_passes_with_its_defaults()
    {
        var methods = Verify(0, "--all");
        var names = methods.Select(m => m.GetProperty("method").GetString()).ToHashSet();
        foreach (var shipped in new[] { "full", "probe", "lora", "dora", "vera", "loha", "lokr", "adapters", "prompt", "p-tuning",
                     "prefix", "ia3" })
            Assert.Contains(shipped, names);
        Assert.All(methods, m => Assert.Empty(Failed(m)));
        var lora = methods.Single(m => m.GetProperty("method").GetString() == "lora").GetProperty("checks").EnumerateArray()
            .Select(c => c.GetProperty("name").GetString());
        Assert.Contains("merge == unmerged", lora);
        Assert.Contains("no-op at init", lora);
    }

    [Fact]
    public void Every_shipped_method_passes_in_bf16_too()
    {
        // Matmuls in bf16 (Autocast): merge == unmerged and KV cache == recompute within bf16's tolerance, the rest exact.
        var methods = Verify(0, "--all", "--precision", "bf16");
        Assert.True(methods.Count >= 12);
        Assert.All(methods, m => Assert.Empty(Failed(m)));
    }

    [Fact]
    public void Checks_run_in_the_precision_run_would_pick_and_say_which()
    {
        // run's default is --precision auto (decided from the CPU's flags); verify checks in that same choice, so a method that
        // only breaks in bf16 is caught on the machines that will train it in bf16.
        var auto = Verify(0, "--method", "lora").Single();
        var expected = PluginGpt.Core.PrecisionSelector.Resolve("auto", TorchSharp.torch.CPU);
        Assert.Equal(expected.Reason, auto.GetProperty("precision_reason").GetString());
        Assert.Equal(expected.Name, auto.GetProperty("precision").GetString());
        var asked = Verify(0, "--method", "lora", "--precision", "bf16").Single();
        Assert.Equal("bf16", asked.GetProperty("precision").GetString());
        Assert.Equal("asked for", asked.GetProperty("precision_reason").GetString());
        var table = CliRunner.Run("verify", "--method", "lora", "--precision", "fp32");
        Assert.True(table.ExitCode == 0, table.Stdout + table.Stderr);
        Assert.Contains("precision fp32 (asked for)", table.Stdout);
    }

    [Theory]
    [InlineData("lora", "use_rslora=true", "target_modules=[\"c_attn\",\"mlp.c_fc\",\"mlp.c_proj\"]")]
    [InlineData("adapters", "config=houlsby", "reduction_factor=4")]
    [InlineData("prefix", "prefix_projection=true", "num_virtual_tokens=5")]
    [InlineData("p-tuning", "encoder_hidden_size=16", "num_virtual_tokens=3")]
    [InlineData("ia3", "init_ia3_weights=false", "target_modules=[\"c_attn\",\"mlp.c_fc\",\"mlp.c_proj\"]")]
    public void Method_variants_pass(string method, string option1, string option2) =>
        Assert.Empty(Failed(Verify(0, "--method", method, "--set", option1, "--set", option2).Single()));

    [Fact]
    public void A_method_that_breaks_the_contract_fails_the_checks_it_breaks()
    {
        var leaky = Verify(3, "--method", "leaky", "--plugins",
            Path.Combine(CliRunner.RepoRoot, "artifacts", "test-plugins", "BrokenPlugin")).Single();
        // Its module ignores the model's device, changes the output at init, and stays (alive) after dispose.
        Assert.Equal(["modules on the model's device", "no-op at init", "dispose restores the base", "frees what it made"],
            Failed(leaky).ToArray());
    }

    [Fact]
    public void A_check_that_throws_fails_alone_and_the_others_still_run()
    {
        var method = Verify(3, "--method", "throws-on-save", "--plugins",
            Path.Combine(CliRunner.RepoRoot, "artifacts", "test-plugins", "BrokenPlugin")).Single();
        Assert.Equal(["save → fresh attach → load"], Failed(method).ToArray());
        var save = method.GetProperty("checks").EnumerateArray()
            .Single(c => c.GetProperty("name").GetString() == "save → fresh attach → load");
        Assert.Contains("threw IOException: deliberately broken save", save.GetProperty("detail").GetString());
        Assert.Contains("frees what it made", method.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public void A_merge_that_leaks_a_tensor_fails_the_merge_check_alone()
    {
        var method = Verify(3, "--method", "merge-leak", "--plugins",
            Path.Combine(CliRunner.RepoRoot, "artifacts", "test-plugins", "BrokenPlugin")).Single();
        Assert.Equal(["merge == unmerged"], Failed(method).ToArray());
        var merge = method.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "merge == unmerged");
        Assert.Contains("1 tensors left behind", merge.GetProperty("detail").GetString());
    }

    [Fact]
    public void An_expected_trainable_count_is_checked_on_the_preset()
    {
        // DoRA r = 8 on the tiny preset's c_attn (32 → 96), 2 layers: A 8·32 + B 96·8 + magnitude 96 = 1,120 per layer.
        var dora = Verify(0, "--method", "dora", "--expect-trainable", "2240").Single();
        var count = dora.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "trainable count");
        Assert.Equal("2,240 trainable values, as expected", count.GetProperty("detail").GetString());
        var wrong = Verify(3, "--method", "vera", "--expect-trainable", "5").Single();
        Assert.Equal(["trainable count"], Failed(wrong).ToArray());
        var r = CliRunner.Run("verify", "--all", "--expect-trainable", "5");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--expect-trainable", r.Stderr);
    }

    [Fact]
    public void Options_given_with_all_are_refused()
    {
        var r = CliRunner.Run("verify", "--all", "--set", "r=4");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--set", r.Stderr);
    }

    [Fact]
    public void A_method_built_against_SDK_2_8_loads_and_passes_every_check_through_the_obsolete_members()
    {
        // tests/Fixtures/Sdk28Plugin/prebuilt is that build, kept as a binary: it wraps a Linear through LinearWrapper.WrapAll
        // (ReplaceLinear underneath) and adds a block-output hook, both marked obsolete since SDK 2.9. Its shift after every MLP
        // gets a gradient only if the decoder still calls that hook.
        var method = Verify(0, "--method", "sdk28-compat", "--precision", "fp32", "--plugins",
            Path.Combine(CliRunner.RepoRoot, "tests", "Fixtures", "Sdk28Plugin", "prebuilt")).Single();
        Assert.Empty(Failed(method));
        var checks = method.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!,
            c => c.GetProperty("detail").GetString()!);
        Assert.Contains("all 2 trainable tensors receive a gradient", checks["gradients"]);
        Assert.Contains("replaced modules left: 0; hooks left: 0", checks["dispose restores the base"]);
    }
}
