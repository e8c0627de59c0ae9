using System.Globalization;
using System.Text.Json;

namespace PluginGpt.Abstractions;

/// <summary>
/// Refuses numbers JSON can spell but no setting can use: <c>1e999</c> parses as infinity and would pass every
/// "must be &gt; 0" check, then crash or silently saturate far from the file that caused it.
/// </summary>
public static class JsonNumbers
{
    /// <summary>Throws <see cref="OptionsException"/> naming <paramref name="section"/> and the field when any number inside
    /// <paramref name="element"/> is not a finite double.</summary>
    public static void RequireFinite(JsonElement element, string section) => Walk(element, section, "");

    static void Walk(JsonElement element, string section, string field)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                    Walk(property.Value, section, field.Length == 0 ? property.Name : $"{field}.{property.Name}");
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray()) Walk(item, section, $"{field}[{i++}]");
                break;
            case JsonValueKind.Number:
                var raw = element.GetRawText();
                if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                    throw new OptionsException($"{section}{(field.Length > 0 ? ": " + field : "")}: {raw} is beyond any finite number");
                break;
        }
    }
}
