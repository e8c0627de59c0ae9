namespace PluginGpt.Core.Tokenization;

/// <summary>
/// GPT-2's reversible map from bytes to printable characters, used in <c>vocab.json</c>/<c>merges.txt</c>
/// so that every token is a visible string (space = 'Ġ', newline = 'Ċ').
/// </summary>
public static class ByteUnicode
{
    public static readonly char[] ByteToChar = Build();

    static char[] Build()
    {
        var map = new char[256];
        bool Printable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = Printable(b) ? (char)b : (char)next++;
        return map;
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteToChar[bytes[i]];
        return new string(chars);
    }
}
