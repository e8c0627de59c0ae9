using System.Text.Json;

namespace PluginGpt.Runs.Plugins;

/// <summary>
/// Checks a plugin's <c>.deps.json</c> before the runtime's native host reads it: that reader (hostpolicy, C++) aborts the
/// whole process on a manifest of the wrong shape (<c>{"runtimeTarget": {}}</c> ends in SIGABRT), so every field it takes on
/// trust is checked here first and a bad plugin is skipped with one line instead.
/// </summary>
public static class DepsManifest
{
    /// <summary>What is wrong with the manifest at <paramref name="path"/>, or null when the native host can read it.</summary>
    public static string? Problem(string path)
    {
        var name = Path.GetFileName(path);
        try
        {
            using var deps = JsonDocument.Parse(File.ReadAllText(path));
            return Check(deps.RootElement) is { } problem ? $"{name} is not a dependency manifest: {problem}" : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            return $"{name} cannot be read: {e.Message}";
        }
    }

    static string? Check(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return "the top level is not an object";
        if (!root.TryGetProperty("runtimeTarget", out var target)) return "no runtimeTarget";
        var framework = target.ValueKind == JsonValueKind.String ? target.GetString()
            : target.ValueKind == JsonValueKind.Object && target.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                ? n.GetString() : null;
        if (string.IsNullOrEmpty(framework)) return "runtimeTarget has no name";
        if (!root.TryGetProperty("targets", out var targets) || targets.ValueKind != JsonValueKind.Object) return "no targets object";
        if (!targets.TryGetProperty(framework, out var packages) || packages.ValueKind != JsonValueKind.Object)
            return $"targets has no '{framework}' object";
        var libraries = root.TryGetProperty("libraries", out var l) ? l : default;
        if (libraries.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined)) return "libraries is not an object";
        foreach (var package in packages.EnumerateObject())
        {
            if (package.Value.ValueKind != JsonValueKind.Object) return $"target '{package.Name}' is not an object";
            foreach (var section in package.Value.EnumerateObject().Where(s => AssetSections.Contains(s.Name)))
            {
                bool stringsOnly = section.Name == "dependencies";
                if (section.Value.ValueKind != JsonValueKind.Object) return $"'{package.Name}'.{section.Name} is not an object";
                foreach (var item in section.Value.EnumerateObject())
                    if (item.Value.ValueKind != (stringsOnly ? JsonValueKind.String : JsonValueKind.Object))
                        return $"'{package.Name}'.{section.Name}.'{item.Name}' is not a{(stringsOnly ? " version string" : "n object")}";
            }
            if (libraries.ValueKind == JsonValueKind.Object && libraries.TryGetProperty(package.Name, out var library)
                && LibraryProblem(library) is { } problem)
                return $"library '{package.Name}': {problem}";
        }
        return null;
    }

    /// <summary>The parts of a target entry the native host walks (others, e.g. <c>compileOnly: true</c>, it does not).</summary>
    static readonly HashSet<string> AssetSections = ["dependencies", "runtime", "native", "resources", "runtimeTargets"];

    static string? LibraryProblem(JsonElement library)
    {
        if (library.ValueKind != JsonValueKind.Object) return "not an object";
        if (!library.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String) return "no type";
        foreach (var field in new[] { "sha512", "path", "hashPath" })
            if (library.TryGetProperty(field, out var v) && v.ValueKind != JsonValueKind.String) return $"{field} is not a string";
        if (library.TryGetProperty("serviceable", out var s) && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            return "serviceable is not true or false";
        return null;
    }
}
