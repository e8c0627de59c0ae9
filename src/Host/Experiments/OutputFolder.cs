namespace PluginGpt.Host.Experiments;

/// <summary>Output folders are never written into twice: a folder must be new or empty.</summary>
public static class OutputFolder
{
    /// <summary>The full path of <paramref name="path"/>, or an error naming <paramref name="field"/> when it already holds
    /// something.</summary>
    public static string EnsureFree(string path, string field)
    {
        var dir = Path.GetFullPath(path);
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new OptionsException($"{field}: {dir} already exists and is not empty; " +
                $"runs are never overwritten, choose another {field.TrimStart('-')}");
        return dir;
    }
}
