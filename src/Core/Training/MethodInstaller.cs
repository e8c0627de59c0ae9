namespace PluginGpt.Core.Training;

/// <summary>The host's half of the method contract: freeze the body, attach, and train exactly what the method names.</summary>
public static class MethodInstaller
{
    /// <summary>
    /// Freezes every parameter, lets the method attach, then freezes again whatever the method created and unfreezes exactly
    /// <see cref="IAttachedMethod.Trainable"/> (PEFT's <c>_mark_only_adapters_as_trainable</c>). A trainable tensor outside the
    /// model's module tree is a plugin bug: the attachment is undone and the error names the tensor.
    /// </summary>
    public static IAttachedMethod Attach(IAdaptationMethod method, IDecoder model, System.Text.Json.JsonElement options)
    {
        foreach (var p in model.Module.parameters()) p.requires_grad = false;
        var attached = method.Attach(model, options);
        try
        {
            var tree = model.Module.parameters().ToList();
            foreach (var p in tree) p.requires_grad = false;
            var inTree = tree.Select(p => p.Handle).ToHashSet();
            foreach (var (name, p) in attached.Trainable)
            {
                if (!inTree.Contains(p.Handle))
                    throw new InvalidOperationException(
                        $"method '{method.Manifest.Name}': trainable tensor '{name}' is not in the model's module tree " +
                        "(replace a Linear with IDecoder.ReplaceLinear or add the module with IDecoder.AttachModule)");
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
