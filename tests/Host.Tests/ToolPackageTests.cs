using System.IO.Compression;
using System.Text.Json;
using Xunit;

namespace PluginGpt.Host.Tests;

/// <summary>
/// The .NET way in: the host packed as a dotnet tool (plugins, data and experiment files inside), the SDK and the
/// <c>dotnet new</c> template packed beside it into a local folder feed; the tool installed from that feed with
/// <c>dotnet tool install --tool-path</c>; a project made from the template, built against the packed SDK and loaded,
/// verified and trained by the installed tool, all outside the repository — but inside another repository whose build
/// settings must not reach it; and a re-packed SDK that NuGet would silently not use is named by a build warning.
/// </summary>
public class ToolPackageTests
{
    [Fact]
    public void Packed_tool_installs_lists_its_plugins_and_loads_a_method_made_from_the_template()
    {
        var sdkVersion = DotnetCli.UniqueVersion(2, 1);
        var newer = DotnetCli.UniqueVersion(2, 2);
        try { PackInstallBuildAndRun(sdkVersion, newer); }
        finally { DotnetCli.ForgetPackage("PluginGpt.Sdk", sdkVersion, newer); }   // made for this test only
    }

    static void PackInstallBuildAndRun(string sdkVersion, string newer)
    {
        using var dir = new TempDir();
        var feed = dir["feed"];
        var toolVersion = DotnetCli.UniqueVersion(0, 5);
        var repo = CliRunner.RepoRoot;
        DotnetCli.Dotnet(repo, "pack", "src/Host", "-c", "Release", "--no-build", "-o", feed, $"-p:PackageVersion={toolVersion}");
        DotnetCli.Dotnet(repo, "pack", "src/Abstractions", "-c", "Release", "--no-build", "-o", feed, $"-p:PackageVersion={sdkVersion}");
        DotnetCli.Dotnet(repo, "pack", "templates", "-c", "Release", "-o", feed, $"-p:PackageVersion={sdkVersion}");
        CheckToolPackage(Path.Combine(feed, $"plugingpt.{toolVersion}.nupkg"));
        // An unrelated data/ folder where the user works must not hide the data shipped in the tool.
        Directory.CreateDirectory(dir["data/sst2"]);
        File.WriteAllText(dir["data/sst2/notes.txt"], "not a data set");

        DotnetCli.Dotnet(dir.Path, "tool", "install", "plugingpt", "--version", toolVersion, "--tool-path", dir["tool"],
            "--add-source", feed);
        var tool = dir["tool/plugingpt"];
        var listed = JsonDocument.Parse(DotnetCli.Program(tool, dir.Path, "plugins", "--json")).RootElement.GetProperty("plugins")
            .EnumerateArray().ToList();
        foreach (var name in new[] { "lora", "ia3", "adapters", "prefix", "pet", "text-to-text", "classification" })
            Assert.Contains(listed, p => p.GetProperty("name").GetString() == name);
        Assert.All(listed, p => Assert.StartsWith(dir["tool"], p.GetProperty("path").GetString()));   // its own plugins, not the repo's

        // The template, from an isolated template cache (never the user's), made as the README says (dotnet new -n, no -o) inside
        // a repository with build settings of its own: this one's (central package management on, which refuses the template's
        // PackageReference with NU1008) and a Directory.Build.targets that fails any build it reaches.
        var hive = dir["hive"];
        var templates = Path.Combine(feed, $"PluginGpt.Templates.{sdkVersion}.nupkg");
        DotnetCli.Dotnet(dir.Path, "new", "install", templates, "--debug:custom-hive", hive);
        var enclosing = dir["repo"];
        Directory.CreateDirectory(enclosing);
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props" })
            File.Copy(Path.Combine(repo, file), Path.Combine(enclosing, file));
        File.WriteAllText(Path.Combine(enclosing, "Directory.Build.targets"), """
            <Project>
              <Target Name="EnclosingSettingsLeaked" BeforeTargets="Build">
                <Error Text="the enclosing repository's Directory.Build.targets reached the plugin" />
              </Target>
            </Project>
            """);
        DotnetCli.Dotnet(enclosing, "new", "plugingpt-method", "-n", "LayerNormTune", "--debug:custom-hive", hive);
        var project = Path.Combine(enclosing, "LayerNormTune");
        string Build(params string[] extra) =>
            DotnetCli.Dotnet(project, ["build", "-c", "Release", "-o", dir["out"], $"-p:RestoreAdditionalProjectSources={feed}", .. extra]);
        Assert.DoesNotContain("PLUGINGPT00", Build());
        Assert.True(File.Exists(dir["out/LayerNormTune.dll"]));
        Assert.False(File.Exists(dir["out/PluginGpt.Abstractions.dll"]), "the SDK belongs to the host and must not be copied");

        var withPlugin = DotnetCli.Program(tool, dir.Path, "plugins", "--json", "--plugins", dir["out"]);
        var method = JsonDocument.Parse(withPlugin).RootElement.GetProperty("plugins").EnumerateArray()
            .Single(p => p.GetProperty("name").GetString() == "layernormtune");
        Assert.Equal("method", method.GetProperty("kind").GetString());
        DotnetCli.Program(tool, dir.Path, "verify", "--method", "layernormtune", "--plugins", dir["out"]);

        // Trained by the installed tool from an unrelated folder, on the experiment file and data shipped inside the tool.
        // Tiny preset (d = 32, 2 blocks): LayerNorms 2 · 2 · 64 + ln_f 64 = 320, plus the 2-class head 32 · 2 + 2 = 66.
        Assert.Equal(320 + 66, TrainedParameters(tool, dir, "all"));
        Assert.Equal(64 + 66, TrainedParameters(tool, dir, "final", "--set", "method.options.norms=[\"ln_f\"]"));

        // The SDK re-packed under the same version: NuGet's cache keeps serving the first package, and the build says so.
        File.Delete(Path.Combine(feed, $"PluginGpt.Sdk.{sdkVersion}.nupkg"));   // else pack sees nothing changed and keeps it
        DotnetCli.Dotnet(repo, "pack", "src/Abstractions", "-c", "Release", "--no-build", "-o", feed, $"-p:PackageVersion={sdkVersion}",
            "-p:PackageReleaseNotes=re-packed");
        Assert.Contains($"warning PLUGINGPT001: PluginGpt.Sdk {sdkVersion} in NuGet's cache", Build());
        // A newer version: the template's floating 2.* is resolved again only by a forced restore, and the build says so.
        DotnetCli.Dotnet(repo, "pack", "src/Abstractions", "-c", "Release", "--no-build", "-o", feed, $"-p:PackageVersion={newer}");
        Assert.Contains($"warning PLUGINGPT002: PluginGpt.Sdk {sdkVersion} is what this build uses, but {feed} holds the newer {newer}",
            Build());
        Assert.DoesNotContain("PLUGINGPT00", Build("--force"));
        Assert.Contains($"\"PluginGpt.Sdk/{newer}\"", File.ReadAllText(Path.Combine(project, "obj", "project.assets.json")));
    }

    /// <summary>The package holds the program, its plugins (one folder per in-tree plugin, nothing stale), the shipped data and
    /// experiments, and native files for linux-x64 only (LibTorch's platform).</summary>
    static void CheckToolPackage(string package)
    {
        using var zip = ZipFile.OpenRead(package);
        const string root = "tools/net10.0/any/";
        var names = zip.Entries.Select(e => e.FullName).Where(n => n.StartsWith(root)).Select(n => n[root.Length..]).ToList();
        Assert.Contains("plugingpt.dll", names);
        Assert.Contains("runtimes/linux-x64/native/libtorch_cpu.so", names);
        Assert.Contains("data/tokenizers/en-4k/vocab.json", names);
        Assert.Contains("experiments/full-sst2-tiny.json", names);
        Assert.All(names.Where(n => n.StartsWith("runtimes/")), n => Assert.StartsWith("runtimes/linux-x64/", n));
        var pluginFolders = names.Where(n => n.StartsWith("plugins/")).Select(n => n.Split('/')[1]).Distinct().Order();
        var inTree = Directory.GetDirectories(Path.Combine(CliRunner.RepoRoot, "plugins")).Select(Path.GetFileName).Order();
        Assert.Equal(inTree, pluginFolders);
    }

    static long TrainedParameters(string tool, TempDir dir, string run, params string[] extra)
    {
        DotnetCli.Program(tool, dir.Path, ["run", "experiments/full-sst2-tiny.json", "--plugins", dir["out"], "--results", "none",
            "--set", "method.name=layernormtune", "--set", "training.epochs=1", "--set", "task.max_train=200", "--set", "task.max_dev=50",
            "--set", $"output={dir[run]}", .. extra]);
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir[run], "metrics.json"))).RootElement
            .GetProperty("trainable_parameters").GetInt64();
    }
}
