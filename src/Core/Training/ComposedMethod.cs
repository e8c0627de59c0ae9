using TorchSharp.Modules;

namespace PluginGpt.Core.Training;

/// <summary>
/// Several methods attached to one model as one (AdapterHub's composition, PEFT's mixed adapters: LoRA with prefix tuning,
/// adapters with LoRA): the trainable sets united, each method saving into its own folder — the first into the run's folder as
/// it would alone, the n-th into <c>with-n-NAME/</c> beside it —, merged only when all can merge, undone in reverse order.
/// </summary>
public sealed class ComposedMethod : IAttachedMethod
{
    readonly IReadOnlyList<MethodChoice> methods;
    readonly IReadOnlyList<IAttachedMethod> parts;
    readonly Dictionary<string, (IAttachedMethod Part, string Name)> owner = [];

    /// <summary>The first method's tensors keep their names; the n-th's are prefixed <c>with-n-NAME.</c>, so two methods may use
    /// the same PEFT name (prompt and prefix tuning both call theirs <c>prompt_embeddings</c>): each saves in its own folder.</summary>
    internal ComposedMethod(IReadOnlyList<MethodChoice> methods, IReadOnlyList<IAttachedMethod> parts)
    {
        this.methods = methods;
        this.parts = parts;
        var trainable = new List<(string, Parameter)>();
        for (int i = 0; i < parts.Count; i++)
            foreach (var (name, p) in parts[i].Trainable)
            {
                string united = i == 0 ? name : $"{FolderName(i)}.{name}";
                owner[united] = (parts[i], name);
                trainable.Add((united, p));
            }
        Trainable = trainable;
    }

    /// <summary>Refuses, in one line and before anything attaches, a method that does not declare its hook points and two methods
    /// that share one.</summary>
    internal static void CheckHookPoints(IReadOnlyList<MethodChoice> methods)
    {
        var taken = new List<(HookPoints Points, MethodChoice By)>();
        foreach (var choice in methods)
        {
            string name = choice.Method.Manifest.Name;
            var points = choice.Method.Uses(choice.Options)
                ?? throw new OptionsException($"{choice.Field}: method '{name}' does not declare the hook points it uses " +
                    "(IAdaptationMethod.Uses, SDK 2.6), so it cannot be composed with another");
            // A method that trains the body's own weights would also train the other methods' tensors.
            if (points.HasFlag(HookPoints.BodyWeights))
                throw new OptionsException($"{choice.Field}: method '{name}' trains the body's own weights; it runs alone");
            foreach (var (other, by) in taken)
                if ((other & points) is var shared and not HookPoints.None)
                    throw new OptionsException($"{choice.Field}: methods '{by.Method.Manifest.Name}' and '{name}' both use " +
                        $"{shared}; compose methods that use different hook points");
            taken.Add((points, choice));
        }
    }

    public IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; }

    public ParameterSettings SettingsFor(string name, Parameter parameter) =>
        owner[name].Part.SettingsFor(owner[name].Name, parameter);

    /// <summary>The folder the n-th method saves into: the run's own for the first, <c>with-n-NAME/</c> in it for the others.</summary>
    public string FolderOf(string directory, int index) => index == 0 ? directory : Path.Combine(directory, FolderName(index));

    /// <summary><c>with-n-NAME</c>: the n-th method's folder, and the prefix of its tensors' names.</summary>
    string FolderName(int index) => $"with-{index}-{methods[index].Method.Manifest.Name}";

    public void Save(string directory)
    {
        for (int i = 0; i < parts.Count; i++)
        {
            var folder = FolderOf(directory, i);
            Directory.CreateDirectory(folder);
            parts[i].Save(folder);
        }
    }

    public void Load(string directory)
    {
        for (int i = 0; i < parts.Count; i++)
        {
            var folder = FolderOf(directory, i);
            if (!Directory.Exists(folder))
                throw new CheckpointException($"{folder}: missing; the run was saved without {methods[i].Field} " +
                    $"('{methods[i].Method.Manifest.Name}')");
            parts[i].Load(folder);
        }
    }

    public bool IsIdentityAtInit => parts.All(p => p.IsIdentityAtInit);
    public bool CanMerge => parts.All(p => p.CanMerge);

    /// <summary>Merges every method or none.</summary>
    public void Merge()
    {
        int merged = 0;
        try
        {
            foreach (var part in parts) { part.Merge(); merged++; }
        }
        catch
        {
            for (int i = merged - 1; i >= 0; i--) parts[i].Unmerge();
            throw;
        }
    }

    public void Unmerge()
    {
        for (int i = parts.Count - 1; i >= 0; i--) parts[i].Unmerge();
    }

    /// <summary>Detaches in reverse order of attaching: each method finds the model as it left it.</summary>
    public void Dispose()
    {
        for (int i = parts.Count - 1; i >= 0; i--) parts[i].Dispose();
    }
}
