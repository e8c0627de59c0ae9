using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.Modules;

namespace PluginGpt.Abstractions;

/// <summary>
/// A method's own files in PEFT's layout: <c>adapter_config.json</c> beside <c>adapter_model.safetensors</c> holding exactly
/// the method's trainable tensors by name (the base model is never written).
/// </summary>
public static class AdapterFiles
{
    public const string ConfigFile = "adapter_config.json", WeightsFile = "adapter_model.safetensors";

    public static void Save(string directory, JsonObject config, IEnumerable<(string Name, Parameter Parameter)> weights)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile),
            config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        TensorFiles.Save(Path.Combine(directory, WeightsFile), weights);
    }

    /// <summary>The saved config (an error naming the file when it is missing or not JSON).</summary>
    public static JsonObject ReadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new CheckpointException($"{path}: expected a JSON object");
        }
        catch (JsonException e) { throw new CheckpointException($"{path}: {e.Message}"); }
    }

    public static void Load(string directory, IEnumerable<(string Name, Parameter Parameter)> weights) =>
        TensorFiles.CopyInto(Path.Combine(directory, WeightsFile), weights);
}
