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
    /// <summary>PEFT's config file name: the method's options, read back by <see cref="ReadConfig"/> to refuse a mismatched
    /// adapter.</summary>
    public const string ConfigFile = "adapter_config.json";

    /// <summary>PEFT's weights file name: the trainable tensors by their <see cref="PeftKeys"/> names.</summary>
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>Writes <paramref name="config"/> (indented JSON) and <paramref name="weights"/> into <paramref name="directory"/>,
    /// each file atomically.</summary>
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

    /// <summary>Copies the saved tensors into <paramref name="weights"/> by name; a missing key or another shape is a
    /// <see cref="CheckpointException"/> naming file and key, and leaves every parameter as it was.</summary>
    public static void Load(string directory, IEnumerable<(string Name, Parameter Parameter)> weights) =>
        TensorFiles.CopyInto(Path.Combine(directory, WeightsFile), weights);
}
