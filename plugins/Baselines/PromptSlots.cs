namespace PluginGpt.Plugins.Baselines;

/// <summary>The in-context templates' text slots: <c>{0}</c>, <c>{1}</c>, … are an example's texts in order.</summary>
static class PromptSlots
{
    public static string Fill(string template, IReadOnlyList<string> texts)
    {
        var text = template;
        for (int i = 0; i < texts.Count; i++) text = text.Replace("{" + i + "}", texts[i]);
        return text;
    }
}
