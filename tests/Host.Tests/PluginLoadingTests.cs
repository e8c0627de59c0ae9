using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

public class PluginLoadingTests
{
    static string TestPlugin(string name) => Path.Combine(CliRunner.RepoRoot, "artifacts", "test-plugins", name);

    static JsonElement PluginsJson(params string[] extra)
    {
        var r = CliRunner.Run(["plugins", "--json", .. extra]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    static IEnumerable<(string Name, string Kind, string Assembly)> Plugins(JsonElement json) =>
        json.GetProperty("plugins").EnumerateArray()
            .Select(p => (p.GetProperty("name").GetString()!, p.GetProperty("kind").GetString()!, p.GetProperty("assembly").GetString()!));

    [Fact]
    public void Built_in_plugins_come_from_their_own_assemblies()
    {
        var plugins = Plugins(PluginsJson()).ToList();
        foreach (var task in new[] { "classification", "nli", "similarity", "multiple-choice" })
            Assert.Contains(("" + task, "task", "PluginGpt.Plugins.Tasks.dll"), plugins);
        Assert.Contains(("full", "method", "PluginGpt.Plugins.Baselines.dll"), plugins);
        Assert.Contains(("classifier-head", "objective", "PluginGpt.Plugins.Baselines.dll"), plugins);
    }

    [Fact]
    public void Throwing_and_other_contract_plugins_are_reported_in_one_line_and_skipped()
    {
        var r = CliRunner.Run("plugins", "--json", "--plugins", TestPlugin("BrokenPlugin"));
        Assert.Equal(0, r.ExitCode);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        var errors = json.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()!).ToList();
        Assert.Contains(errors, e => e.Contains("threw on creation: deliberately broken constructor"));
        Assert.Contains(errors, e => e.Contains("contract version 99"));
        Assert.DoesNotContain(Plugins(json), p => p.Name == "future");
        Assert.Contains(Plugins(json), p => p.Name == "full");   // the rest keep working
        Assert.Equal(2, r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("warning: plugin ")));
    }

    [Fact]
    public void Plugin_with_a_missing_dependency_is_reported_and_skipped()
    {
        using var dir = new TempDir();
        foreach (var f in Directory.GetFiles(TestPlugin("MissingDependencyPlugin")))
            File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        File.Delete(dir["DependencyLib.dll"]);
        var json = PluginsJson("--plugins", dir.Path);
        var error = Assert.Single(json.GetProperty("errors").EnumerateArray());
        Assert.Contains("missing dependency", error.GetProperty("message").GetString());
        Assert.Contains("DependencyLib", error.GetProperty("message").GetString());
        Assert.Contains(Plugins(json), p => p.Name == "classification");
    }

    [Fact]
    public void Plugin_folders_also_come_from_the_environment()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "plugingpt.dll"));
        start.ArgumentList.Add("plugins");
        start.Environment["PLUGINGPT_PLUGINS"] = TestPlugin("BrokenPlugin");
        using var p = System.Diagnostics.Process.Start(start)!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Contains("contract version 99", stderr);
    }

    [Fact]
    public void Plugins_are_created_by_the_hosts_container_with_services_their_startup_registered()
    {
        var json = PluginsJson("--plugins", TestPlugin("ServicePlugin"));
        var plugin = json.GetProperty("plugins").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "with-services");
        Assert.Equal("registered by the plugin's own startup", plugin.GetProperty("description").GetString());
        Assert.Empty(json.GetProperty("errors").EnumerateArray());
    }
}
