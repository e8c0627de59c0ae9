using System.CommandLine;

namespace PluginGpt.Host.Commands;

/// <summary>One verb of the CLI; registered in DI so later verbs (and plugins) add themselves.</summary>
public interface ICliCommand
{
    Command Build();
}
