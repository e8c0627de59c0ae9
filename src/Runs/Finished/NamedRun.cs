namespace PluginGpt.Runs;

/// <summary>A run given a name on the command line (<c>--adapter NAME=RUN_DIR</c>).</summary>
public sealed record NamedRun(string Name, string Directory)
{
    /// <summary>Reads <c>NAME=RUN_DIR</c>; anything else is one line naming the option.</summary>
    public static NamedRun Parse(string text, string option)
    {
        int at = text.IndexOf('=');
        var (name, directory) = at < 0 ? ("", "") : (text[..at].Trim(), text[(at + 1)..].Trim());
        if (name.Length == 0 || directory.Length == 0)
            throw new OptionsException($"{option}: '{text}' is not NAME=RUN_DIR (e.g. {option} sst2=runs/lora-sst2)");
        return new NamedRun(name, directory);
    }
}
