namespace PluginGpt.Runs;

/// <summary>Files a command was asked to write: never a folder, never a file of another kind that happens to sit there.</summary>
public static class OutputFile
{
    static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A new file: not there yet (predictions never replace anything), and its folder not a file.</summary>
    public static string CheckNew(string path, string field)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new OptionsException($"{field}: {full} is a folder; name a file to write");
        if (File.Exists(full)) throw new OptionsException($"{field}: {full} exists; it is never overwritten, choose another name");
        CheckFolder(full, field);
        return full;
    }

    /// <summary>A chart: a <c>.png</c> name, and if it exists already, a PNG (a chart drawn before), never another file —
    /// <c>--plot … runs/results.db</c> must not replace the database with a picture.</summary>
    public static string CheckChart(string path, string field)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new OptionsException($"{field}: {full} is a folder; name a .png file");
        if (!full.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new OptionsException($"{field}: {full} is not a .png name; charts are PNG files");
        if (File.Exists(full) && !IsPng(full))
            throw new OptionsException($"{field}: {full} exists and is not a PNG chart; it is never overwritten, choose another name");
        CheckFolder(full, field);
        return full;
    }

    static void CheckFolder(string full, string field)
    {
        var folder = Path.GetDirectoryName(full)!;
        if (File.Exists(folder)) throw new OptionsException($"{field}: {folder} is a file, not a folder");
    }

    static bool IsPng(string path)
    {
        var head = new byte[PngSignature.Length];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.AsSpan().SequenceEqual(PngSignature);
    }
}
