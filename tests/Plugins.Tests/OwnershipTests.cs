using System.Text.Json;
using PluginGpt.Core.Model;
using PluginGpt.Core.Tokenization;
using PluginGpt.Core.Training;
using PluginGpt.Plugins.Adapters;
using PluginGpt.Plugins.Baselines;
using PluginGpt.Plugins.LoRA;
using PluginGpt.Plugins.PromptTuning;
using PluginGpt.Plugins.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace PluginGpt.Plugins.Tests;

/// <summary>
/// Every plugin frees exactly what it made, outside any dispose scope: attach → use → dispose returns the live tensor count
/// to where it was and leaves the base model as it was (a LoRA wrapper frees A and B, never the base Linear).
/// </summary>
public class OwnershipTests
{
    static readonly GptTokenizer Tok = GptTokenizer.Load(Path.Combine(Repo.Data, "tokenizers", "en-4k"));

    public static TheoryData<string, string> Methods => new()
    {
        { "full", "{}" }, { "probe", "{}" }, { "lora", """{"r": 4}""" }, { "adapters", """{"config": "houlsby", "reduction_factor": 4}""" },
        { "prompt", """{"num_virtual_tokens": 3}""" }, { "p-tuning", """{"num_virtual_tokens": 3}""" },
        { "prefix", """{"num_virtual_tokens": 3, "prefix_projection": true}""" }, { "ia3", "{}" },
    };

    static IAdaptationMethod Method(string name) => name switch
    {
        "full" => new FullFineTuning(),
        "probe" => new LinearProbe(),
        "lora" => new LoraMethod(),
        "adapters" => new AdapterMethod(),
        "prompt" => new PromptTuningMethod(),
        "p-tuning" => new PTuningMethod(),
        "ia3" => new PluginGpt.Plugins.IA3.Ia3Method(),
        _ => new PrefixTuningMethod(),
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void Attach_train_save_merge_and_dispose_leave_no_tensor_behind_and_the_base_model_intact(string method, string options)
    {
        using var dir = new TempDir();
        torch.manual_seed(3);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        var data = new ClassificationTask().LoadBuiltIn("sst2", 8, 4);
        var ids = torch.tensor(new long[] { 5, 17, 300, 42 }).view(1, 4);
        var baseLogits = Logits(model, ids);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        var attached = MethodInstaller.Attach(Method(method), model, JsonDocument.Parse(options).RootElement);
        var objective = new ClassifierHead().Create(new ObjectiveContext(model, Tok, data, default));
        using (var scope = torch.NewDisposeScope()) objective.Loss(data.Train).backward();   // as the host calls it
        attached.Save(dir.Path);
        objective.Save(dir.Path);
        attached.Load(dir.Path);
        if (attached.CanMerge) { attached.Merge(); attached.Unmerge(); }
        objective.Dispose();
        attached.Dispose();

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Empty(model.AttachedModules);
        if (method is not "full")
            Assert.True(Logits(model, ids).allclose(baseLogits, rtol: 0, atol: 0), "dispose must restore the base model");
    }

    [Fact]
    public void An_in_context_objective_with_calibration_frees_what_it_made()
    {
        torch.manual_seed(3);
        using var model = new Decoder(Presets.Tiny with { Vocab = Tok.VocabSize });
        var data = new ClassificationTask().LoadBuiltIn("sst2", 8, 4);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var objective = new InContext().Create(
            new ObjectiveContext(model, Tok, data, JsonDocument.Parse("""{"k": 2, "calibrate": true}""").RootElement)))
        using (var scope = torch.NewDisposeScope()) objective.Predict(data.Dev);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    static Tensor Logits(Decoder model, Tensor ids)
    {
        model.eval();
        using var _ = torch.no_grad();
        return model.Logits(ids);
    }
}
