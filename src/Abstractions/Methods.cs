using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.Modules;

namespace PluginGpt.Abstractions;

/// <summary>
/// How the pretrained body is adapted (full, probe, lora, adapters, prompt, prefix, …).
/// <para><b>Lifecycle.</b> The host builds the model, moves it to its device and freezes every body parameter; then it
/// calls <see cref="Attach"/>, sets <c>requires_grad</c> on exactly <see cref="IAttachedMethod.Trainable"/>, and trains those
/// tensors with AdamW (see <see cref="IAttachedMethod.SettingsFor"/>). After each better epoch it calls
/// <see cref="IAttachedMethod.Save"/> on a fresh folder. To evaluate a finished run it attaches the method with the same
/// options to a fresh model and calls <see cref="IAttachedMethod.Load"/>. <see cref="IAttachedMethod.Merge"/> is called
/// only when <see cref="IAttachedMethod.CanMerge"/> (benchmarks, <c>plugingpt verify</c>). Finally the host disposes
/// the attachment, then the model.</para>
/// <para><b>Errors.</b> A bad option throws <see cref="OptionsException"/> naming the field (<see cref="PluginOptions"/> does it);
/// any other exception is reported as a bug in the plugin.</para>
/// </summary>
public interface IAdaptationMethod : IPlugin
{
    /// <summary>Installs the method's hooks and modules on <paramref name="model"/> (already on its device, body frozen).</summary>
    /// <param name="model">the decoder to adapt. New modules go on <see cref="IDecoder.Device"/> and into the model's module tree
    /// (hook point 1 replaces a Linear in place; modules behind hook points 2–4 are added with <see cref="IDecoder.AttachModule"/>),
    /// so <c>train()</c>/<c>eval()</c>, parameter counts and disposal cover them.</param>
    /// <param name="options">the experiment's <c>method.options</c> object (may be undefined); bind it with
    /// <see cref="PluginOptions.Bind{T}"/>.</param>
    IAttachedMethod Attach(IDecoder model, JsonElement options);

    /// <summary>The decoder's places this method changes, with these options; null (the default) leaves it undeclared, and
    /// such a method runs alone only (it cannot be composed with another). Since SDK 2.6.</summary>
    HookPoints? Uses(JsonElement options) => null;
}

/// <summary>
/// A method installed on one model. Only <see cref="Trainable"/> is required: the other members have defaults (save and
/// load the trainable tensors in PEFT's layout, not mergeable, nothing to undo on dispose).
/// </summary>
public interface IAttachedMethod : IDisposable
{
    /// <summary>The tensors this method trains, by the name they are saved under (the body's own, for full fine-tuning).
    /// Every one must live in the model's module tree; the host sets <c>requires_grad</c> on exactly these.</summary>
    IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; }

    /// <summary>How AdamW treats one trainable tensor; the default decays matrices but not embeddings
    /// (<see cref="ParameterSettings.Default"/>).</summary>
    ParameterSettings SettingsFor(string name, Parameter parameter) => ParameterSettings.Default(name, parameter);

    /// <summary>Writes only this method's own weights and config into <paramref name="directory"/> (an existing, empty folder).
    /// Default: <see cref="Trainable"/> as <c>adapter_model.safetensors</c> + <c>adapter_config.json</c>.</summary>
    void Save(string directory) =>
        AdapterFiles.Save(directory, new JsonObject { ["library"] = "plugingpt", ["tensors"] = Trainable.Count }, Trainable);

    /// <summary>Reads what <see cref="Save"/> wrote into the attached tensors (shapes and names checked, errors name file and
    /// key).</summary>
    void Load(string directory) => AdapterFiles.Load(directory, Trainable);

    /// <summary>Whether the freshly attached method leaves the model's output exactly as it was (LoRA's B = 0, adapters'
    /// zero up-projection, (IA)³'s ones). <c>plugingpt verify</c> checks the claim. Default: no claim.</summary>
    bool IsIdentityAtInit => false;

    /// <summary>Whether <see cref="Merge"/> can fold the method into the base weights (LoRA, (IA)³).</summary>
    bool CanMerge => false;
    /// <summary>Folds the method into the base weights (in fp32); the output must not change beyond rounding.</summary>
    void Merge() => throw new NotSupportedException($"{GetType().Name} cannot be merged into the base weights");
    /// <summary>Undoes <see cref="Merge"/>; does nothing when not merged.</summary>
    void Unmerge() { }

    /// <summary>Undoes everything <see cref="IAdaptationMethod.Attach"/> did: hooks removed, replaced modules put back, the
    /// method's own modules detached and disposed. Afterwards the model is the base model again. Default: nothing to undo.</summary>
    void IDisposable.Dispose() { }
}

/// <summary>How AdamW treats one trainable tensor: weight decay or not, and a multiplier on the learning rate.</summary>
/// <param name="WeightDecay">whether AdamW's decoupled weight decay (<see cref="TrainingSpec.WeightDecay"/>) applies.</param>
/// <param name="LearningRateScale">multiplies the scheduled learning rate for this tensor.</param>
public sealed record ParameterSettings(bool WeightDecay, double LearningRateScale = 1.0)
{
    /// <summary>The host's default: weight decay on tensors with two or more dimensions, except embeddings (a name ending in
    /// <c>wte.weight</c>, <c>wpe.weight</c> or <c>embed_tokens.weight</c>, or containing <c>embedding</c>); biases, norms and vectors
    /// are not decayed.</summary>
    public static ParameterSettings Default(string name, Parameter parameter) =>
        new(parameter.dim() >= 2 && !name.EndsWith("wte.weight") && !name.EndsWith("wpe.weight") && !name.EndsWith("embed_tokens.weight")
            && !name.Contains("embedding", StringComparison.Ordinal));

    /// <summary>No weight decay at all (learned vectors and prompts, which decay would pull towards zero).</summary>
    public static readonly ParameterSettings NoDecay = new(false);
}

/// <summary>
/// The simplest attachment: a chosen subset of the body's own parameters is trained and saved (BitFit, full fine-tuning,
/// the linear probe's empty set). Nothing is installed, so nothing needs undoing.
/// </summary>
public sealed class TrainedParameters(IEnumerable<(string Name, Parameter Parameter)> parameters) : IAttachedMethod
{
    /// <summary>The chosen parameters, a tied tensor once.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; } =
        ParameterSet.Distinct(parameters.Select(p => (p.Name, p.Parameter)));

    /// <summary>Nothing is installed: the model computes what it computed before.</summary>
    public bool IsIdentityAtInit => true;
}
