using System.Text.Json;
using System.Text.Json.Serialization;

namespace PluginGpt.Abstractions;

/// <summary>
/// Binds a plugin's free-form <c>options</c> object to its options record: snake_case names, unknown fields
/// refused (a typo must not silently fall back to a default), errors that name the section and field.
/// </summary>
public static class PluginOptions
{
    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <param name="options">the JSON object to bind (missing or null gives the defaults).</param>
    /// <param name="section">where the options sit in the experiment file, e.g. <c>method.options</c>.</param>
    public static T Bind<T>(JsonElement options, string section) where T : new()
    {
        if (options.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return new T();
        if (options.ValueKind != JsonValueKind.Object)
            throw new OptionsException($"{section}: expected an object, got {options.ValueKind}");
        JsonNumbers.RequireFinite(options, section);
        try { return options.Deserialize<T>(Json) ?? new T(); }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p ? p[2..] : "";
            var detail = e.Message.Split(" Path:")[0];
            throw new OptionsException($"{section}{(field.Length > 0 ? "." + field : "")}: {detail}");
        }
    }

    /// <summary>Throws naming <paramref name="field"/> when <paramref name="ok"/> is false.</summary>
    public static void Require(bool ok, string section, string field, string expectation)
    {
        if (!ok) throw new OptionsException($"{section}.{field}: {expectation}");
    }
}
