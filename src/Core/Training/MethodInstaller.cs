namespace PluginGpt.Core.Training;

/// <summary>The host's half of the method contract: freeze the body, attach, and train exactly what the method names.</summary>
public static class MethodInstaller
{
    /// <summary>
    /// Freezes every parameter, lets the method attach, then freezes again whatever the method created and unfreezes exactly
    /// <see cref="IAttachedMethod.Trainable"/> (PEFT's <c>_mark_only_adapters_as_trainable</c>). A trainable tensor outside the
    /// model's module tree is a plugin bug: the attachment is undone and the error names the tensor.
    /// </summary>
    public static IAttachedMethod Attach(IAdaptationMethod method, IDecoder model, System.Text.Json.JsonElement options) =>
        Attach([new MethodChoice(method, options, "method")], model);

    /// <summary>
    /// Several methods on one model (the first is the experiment's <c>method</c>, the rest its <c>method.with</c>): each must
    /// declare the hook points it uses and no two may share one (refused before any attaches); they attach in order and train
    /// their united trainable sets. One method attaches as <see cref="Attach(IAdaptationMethod, IDecoder, System.Text.Json.JsonElement)"/>.
    /// </summary>
    public static IAttachedMethod Attach(IReadOnlyList<MethodChoice> methods, IDecoder model)
    {
        if (methods.Count > 1) ComposedMethod.CheckHookPoints(methods);
        foreach (var p in model.Module.parameters()) p.requires_grad = false;
        var parts = new List<IAttachedMethod>();
        IAttachedMethod attached;
        try
        {
            foreach (var choice in methods) parts.Add(choice.Method.Attach(model, choice.Options));
            attached = parts.Count == 1 ? parts[0] : new ComposedMethod(methods, parts);
        }
        catch
        {
            for (int i = parts.Count - 1; i >= 0; i--) parts[i].Dispose();
            throw;
        }
        try
        {
            var tree = model.Module.parameters().ToList();
            foreach (var p in tree) p.requires_grad = false;
            var inTree = tree.Select(p => p.Handle).ToHashSet();
            foreach (var (name, p) in attached.Trainable)
            {
                if (!inTree.Contains(p.Handle))
                    throw new InvalidOperationException(
                        $"method '{string.Join("+", methods.Select(m => m.Method.Manifest.Name))}': trainable tensor '{name}' is not " +
                        "in the model's module tree (replace a Linear with IDecoder.ReplaceLinear or add the module with " +
                        "IDecoder.AttachModule)");
                p.requires_grad = true;
            }
        }
        catch
        {
            attached.Dispose();
            throw;
        }
        return attached;
    }
}

/// <summary>A method plugin with its options, and the config field it came from (<c>method</c>, <c>method.with[0]</c>) for
/// errors.</summary>
public sealed record MethodChoice(IAdaptationMethod Method, System.Text.Json.JsonElement Options, string Field);
