global using PluginGpt.Abstractions;
global using Xunit;
global using PluginGpt.TestSupport;

namespace PluginGpt.Plugins.Tests;

public static class Repo
{
    public static string Root => PluginGpt.TestSupport.RepoPaths.Root;
    public static string Data => PluginGpt.TestSupport.RepoPaths.Data();
}
