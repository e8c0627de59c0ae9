global using PluginGpt.Abstractions;
global using Xunit;

namespace PluginGpt.Plugins.Tests;

public static class Repo
{
    public static string Root { get; } = Find();
    public static string Data => Path.Combine(Root, "data");
    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "PluginGpt.sln"))) return d.FullName;
        throw new DirectoryNotFoundException();
    }
}
