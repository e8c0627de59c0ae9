using System.Text.Json.Nodes;
using TorchSharp.Modules;

namespace PluginGpt.Abstractions;

/// <summary>
/// The attachment of a method that wraps Linear layers (hook point 1), with what every such method needs: merge and unmerge of
/// all wrappers, PEFT-layout save and load (a merged model is unmerged for loading and merged again), and a dispose that
/// unmerges, puts the base Linears back and frees the wrappers. A subclass names its tensors and its adapter config.
/// </summary>
public abstract class WrappedLinears<T>(IDecoder model, IReadOnlyList<(string Path, T Wrapper)> layers) : IAttachedMethod
    where T : LinearWrapper
{
    List<(string Path, T Wrapper)> wrapped = [.. layers];

    /// <summary>The decoder the wrappers sit in (its Hugging Face names give PEFT's keys). Since SDK 2.3.</summary>
    protected IDecoder Model => model;

    /// <summary>The wrappers by path, in the model's order.</summary>
    protected IReadOnlyList<(string Path, T Wrapper)> Layers => wrapped;

    /// <summary>The wrappers' trainable tensors under the names they are saved as; use <see cref="PeftKeys.Key(IDecoder, string,
    /// string)"/> so that PEFT can load the file.</summary>
    public abstract IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; }
    /// <summary>PEFT's <c>adapter_config.json</c> for this method.</summary>
    protected abstract JsonObject AdapterConfig();

    /// <summary>Adds the fields every Linear-wrapping method writes alike to <paramref name="config"/>: <c>target_modules</c> as full
    /// module names (PEFT then resolves exactly the adapted layers; a leaf name such as <c>c_proj</c> would match attention and MLP
    /// alike), <c>inference_mode</c>, the paths PluginGpt reattaches by, and (unless the method's PEFT config has no such field)
    /// <c>fan_in_fan_out</c>: whether Hugging Face stores the layers as GPT-2's Conv1D ([in, out]). Since SDK 2.6.</summary>
    protected JsonObject WithTargets(JsonObject config, bool fanInFanOut = true)
    {
        if (fanInFanOut) config["fan_in_fan_out"] = Model.StoresConv1D;
        config["target_modules"] =
            new JsonArray(TargetModules.PeftNames(Model, Layers.Select(l => l.Path)).Select(n => (JsonNode)n).ToArray());
        config["inference_mode"] = true;
        config["plugingpt_target_paths"] = new JsonArray(Layers.Select(l => (JsonNode)l.Path).ToArray());
        return config;
    }

    /// <summary>Whether the fresh wrappers leave the output unchanged (LoRA's B = 0); <c>plugingpt verify</c> checks the claim.
    /// Default: no claim.</summary>
    public virtual bool IsIdentityAtInit => false;
    /// <summary>How AdamW treats one trainable tensor; default <see cref="ParameterSettings.Default"/>.</summary>
    public virtual ParameterSettings SettingsFor(string name, Parameter parameter) => ParameterSettings.Default(name, parameter);

    /// <summary>Writes <see cref="AdapterConfig"/> and <see cref="Trainable"/> in PEFT's layout (<see cref="AdapterFiles"/>).</summary>
    public virtual void Save(string directory) => AdapterFiles.Save(directory, AdapterConfig(), Trainable);

    /// <summary>Reads the tensors into the wrappers; <see cref="CheckConfig"/> first, so a mismatched adapter is refused by name.</summary>
    public virtual void Load(string directory)
    {
        CheckConfig(directory, AdapterFiles.ReadConfig(directory));
        bool wasMerged = wrapped.Any(l => l.Wrapper.Merged);
        Unmerge();
        AdapterFiles.Load(directory, Trainable);
        if (wasMerged) Merge();
    }

    /// <summary>Refuses a saved adapter that does not fit this attachment (throw <see cref="CheckpointException"/>). Default: shapes are
    /// checked on load anyway.</summary>
    protected virtual void CheckConfig(string directory, JsonObject config) { }

    /// <summary>For <see cref="CheckConfig"/>: refuses a saved adapter whose config holds another <paramref name="key"/> than
    /// <paramref name="expected"/> (a key the file lacks reads as <paramref name="whenAbsent"/>), in one line naming the file, the
    /// key and both values. Since SDK 2.7.</summary>
    protected static void RequireSaved<TValue>(string directory, JsonObject config, string key, TValue expected,
        TValue? whenAbsent = null) where TValue : struct
    {
        TValue? saved = config[key] is JsonValue v && v.TryGetValue<TValue>(out var value) ? value : whenAbsent;
        if (saved is { } found && EqualityComparer<TValue>.Default.Equals(found, expected)) return;
        throw new CheckpointException($"{Path.Combine(directory, AdapterFiles.ConfigFile)}: adapter has {key} = {Text(saved)}, " +
            $"this experiment {Text(expected)}");
    }

    static string Text(object? value) => value switch
    {
        null => "(none)",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Whether every wrapper can fold into its base weights.</summary>
    public virtual bool CanMerge => wrapped.All(l => l.Wrapper.CanMerge);

    /// <summary>Merges every wrapper, or none: when one refuses, those already merged are unmerged before the exception goes on.</summary>
    public virtual void Merge()
    {
        try
        {
            foreach (var (_, l) in wrapped) l.Merge();
        }
        catch
        {
            Unmerge();
            throw;
        }
    }

    /// <summary>Takes every merged wrapper's effect out of the base weights again.</summary>
    public virtual void Unmerge()
    {
        foreach (var (_, l) in wrapped) l.Unmerge();
    }

    /// <summary>Unmerges, puts the original Linears back and frees the wrappers: the model is the base model again.</summary>
    public virtual void Dispose()
    {
        Unmerge();
        LinearWrapper.UnwrapAll(model, wrapped);
        wrapped = [];
    }
}
