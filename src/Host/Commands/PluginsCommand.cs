using System.CommandLine;
using System.Text.Json;
using PluginGpt.Runs.Plugins;
using Spectre.Console;

namespace PluginGpt.Host.Commands;

/// <summary><c>plugingpt plugins [--json]</c>: every method, objective, task and recipe found, with its assembly, and every load
/// error.</summary>
public sealed class PluginsCommand(IAnsiConsole console, Lazy<PluginCatalog> plugins) : ICliCommand
{
    public Command Build()
    {
        var json = new Option<bool>("--json") { Description = "print the list as JSON" };
        var command = new Command("plugins", "List the plugins found in the plugin folders.") { json };
        command.SetAction(parse =>
        {
            var catalog = plugins.Value;
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    plugins = catalog.Plugins.Select(p => new
                    {
                        name = p.Manifest.Name,
                        kind = p.Manifest.Kind.ToString().ToLowerInvariant(),
                        version = p.Manifest.Version,
                        description = p.Manifest.Description,
                        assembly = Path.GetFileName(p.AssemblyPath),
                        path = p.AssemblyPath,
                    }),
                    errors = catalog.Errors.Select(e => new { path = e.Path, message = e.Message }),
                }, new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            var table = new Table().AddColumns("kind", "name", "version", "assembly", "description");
            foreach (var p in catalog.Plugins.OrderBy(p => p.Manifest.Kind).ThenBy(p => p.Manifest.Name))
                table.AddRow(p.Manifest.Kind.ToString().ToLowerInvariant(), p.Manifest.Name, p.Manifest.Version,
                    Path.GetFileName(p.AssemblyPath), Markup.Escape(p.Manifest.Description));
            console.Write(table);
            return 0;
        });
        return command;
    }
}
