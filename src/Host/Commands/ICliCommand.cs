using System.CommandLine;

namespace PluginGpt.Host.Commands;

/// <summary>One verb of the CLI, created through DI (Composition.cs lists the host's verbs; plugins do not add verbs).</summary>
public interface ICliCommand
{
    Command Build();
}
